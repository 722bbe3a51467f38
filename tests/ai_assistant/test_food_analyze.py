"""POST /api/v1/food/analyze: words, a photo upload or a stored photo → AIResponse<FoodAnalysis>,
answered in the request."""

import pytest

from ai_assistant.models import AIUsage, RecognitionJob
from ai_assistant.recognition.schemas import FoodAnalysis
from storage.models import StoredFile
from tests.ai_assistant.factories import analysis_payload
from tests.asserts import assert_error
from tests.storage.factories import SVG, jpeg_bytes, stored_file, upload

URL = "/api/v1/food/analyze"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


def test_analyze_text_answers_food_analysis(auth_client, gemini):
    gemini.reply_json(analysis_payload())

    response = auth_client.post(URL, {"text": "two boiled eggs and toast"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "gemini"
    assert body["data"] == FoodAnalysis.model_validate(analysis_payload()).model_dump(mode="json")
    [request] = gemini.requests
    assert "two boiled eggs and toast" in request.text


def test_analyze_photo_answers_consolidated_analysis_and_stores_nothing(auth_client, gemini):
    gemini.reply_json(analysis_payload(confidence=0.9))
    gemini.reply_json(analysis_payload(confidence=0.7))

    response = auth_client.post(URL, {"image": upload(jpeg_bytes())}, format="multipart")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "confidence", "processing_time", "source"}
    assert body["source"] == "gemini"
    assert body["confidence"] == 0.8
    assert len(gemini.requests) == 2
    assert all(request.model == "gemini-2.5-flash" for request in gemini.requests)
    assert not StoredFile.objects.exists()
    assert not RecognitionJob.objects.exists()
    assert AIUsage.objects.filter(endpoint="food.recognize").count() == 2


def test_analyze_photo_shares_the_recognition_cache(auth_client, user, gemini):
    stored = stored_file(user, jpeg_bytes((300, 200)))
    for _ in range(2):
        gemini.reply_json(analysis_payload())
    first = auth_client.post(URL, {"file_id": str(stored.id)}, format="json").json()

    again = auth_client.post(URL, {"file_id": str(stored.id)}, format="json").json()

    assert first["source"] == "gemini"
    assert again["source"] == "cache"
    assert again["data"] == first["data"]
    assert len(gemini.requests) == 2


def test_analyze_refuses_another_users_file(auth_client, other_user, gemini):
    theirs = stored_file(other_user)

    response = auth_client.post(URL, {"file_id": str(theirs.id)}, format="json")

    assert "file_id" in assert_error(response, 400, "validation_error")["details"]["fields"]


def test_analyze_refuses_a_file_that_is_not_an_image(auth_client, gemini):
    response = auth_client.post(URL, {"image": upload(SVG, "meal.svg")}, format="multipart")

    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "body", [{}, {"text": "eggs", "file_id": "5b0e4c6e-4a53-4d7c-9f59-6d0f2a1f4a10"}]
)
def test_analyze_needs_exactly_one_input(auth_client, gemini, body):
    response = auth_client.post(URL, body, format="json")

    assert_error(response, 400, "validation_error")


def test_analyze_photo_counts_against_recognition_allowance(auth_client, gemini, settings):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RATE_LIMITS": {**settings.AI_SERVICE["RATE_LIMITS"], "food_recognition": "1/hour"},
    }
    for _ in range(2):
        gemini.reply_json(analysis_payload())
    first = auth_client.post(URL, {"image": upload(jpeg_bytes())}, format="multipart")
    assert first.status_code == 200

    response = auth_client.post(URL, {"image": upload(jpeg_bytes())}, format="multipart")

    assert response.status_code == 429
    assert response["Retry-After"]
    assert len(gemini.requests) == 2


def test_analyze_unavailable_when_no_ai_configured(auth_client):
    response = auth_client.post(URL, {"image": upload(jpeg_bytes())}, format="multipart")

    assert_error(response, 503, "ai_unavailable")
