"""POST /api/v1/workouts/form-check: 1 to 4 photos + an exercise → AIResponse<FormCheck>, kept
on the workout when one of the caller's workouts is named."""

import base64
import io

import pytest
from PIL import Image

from ai_assistant.formcheck.schemas import FormCheckAnswer
from ai_assistant.models import AIUsage
from tests.ai_assistant.factories import form_check_payload
from tests.asserts import assert_error
from tests.storage.factories import WINDOWS_EXE, encode, halves, jpeg_bytes, stored_file, upload
from tests.workouts.factories import create_workout

URL = "/api/v1/workouts/form-check"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


def check(client, photos=1, **fields):
    data = {"exercise": "back squat", **fields}
    if photos:
        data["image"] = [upload(jpeg_bytes(), f"rep{n}.jpg") for n in range(photos)]
    return client.post(URL, data, format="multipart")


def sent_images(request) -> list[bytes]:
    return [
        base64.urlsafe_b64decode(part["inlineData"]["data"])
        for content in request.body["contents"]
        for part in content["parts"]
        if "inlineData" in part
    ]


def test_form_check_answers_form_check_with_confidence_beside_it(auth_client, user, gemini):
    gemini.reply_json(form_check_payload())

    response = check(auth_client, photos=2)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "confidence", "processing_time", "source"}
    assert body["source"] == "gemini"
    assert body["confidence"] == 0.7
    assert body["data"] == {
        key: value for key, value in form_check_payload().items() if key != "confidence"
    }
    [request] = gemini.requests
    assert "back squat" in request.text
    assert len(sent_images(request)) == 2
    assert request.generation_config["responseJsonSchema"] == FormCheckAnswer.model_json_schema()
    assert AIUsage.objects.get().endpoint == "workouts.form_check"


def test_form_check_shows_gemini_stored_photos_at_most_1024px(auth_client, user, gemini):
    stored = stored_file(user, encode(halves((2048, 1024)), "PNG"))
    gemini.reply_json(form_check_payload())

    response = check(auth_client, photos=1, file_id=[str(stored.id)])

    assert response.status_code == 200
    images = sent_images(gemini.requests[0])
    assert len(images) == 2
    with Image.open(io.BytesIO(images[1])) as shown:
        assert (shown.format, shown.size) == ("JPEG", (1024, 512))


def test_form_check_keeps_the_check_on_the_named_workout(auth_client, user, gemini):
    workout = create_workout(user)
    before = auth_client.get(f"/api/v1/workouts/{workout.id}")["ETag"]
    gemini.reply_json(form_check_payload(score=8))

    response = check(auth_client, workout_id=str(workout.id))

    assert response.status_code == 200
    shown = auth_client.get(f"/api/v1/workouts/{workout.id}")
    kept = shown.json()["workout"]["ai_form_check"]
    assert kept["score"] == 8
    assert kept["issues"] == form_check_payload()["issues"]
    assert kept["confidence"] == 0.7
    assert kept["checked_at"]
    assert shown["ETag"] != before


def test_form_check_is_404_for_another_users_workout_and_calls_no_model(
    auth_client, other_user, gemini, settings
):
    theirs = create_workout(other_user)
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RATE_LIMITS": {**settings.AI_SERVICE["RATE_LIMITS"], "form_check": "1/hour"},
    }

    response = check(auth_client, workout_id=str(theirs.id))

    assert_error(response, 404, "not_found")
    assert gemini.requests == []
    theirs.refresh_from_db()
    assert theirs.ai_form_check is None
    # Refused requests do not use up the allowance.
    gemini.reply_json(form_check_payload())
    assert check(auth_client).status_code == 200


@pytest.mark.parametrize("photos", [0, 5])
def test_form_check_needs_one_to_four_photos(auth_client, gemini, photos):
    response = check(auth_client, photos=photos)

    assert "image" in assert_error(response, 400, "validation_error")["details"]["fields"]
    assert gemini.requests == []


def test_form_check_refuses_another_users_file(auth_client, other_user, gemini):
    theirs = stored_file(other_user)

    response = check(auth_client, photos=0, file_id=[str(theirs.id)])

    assert "file_id" in assert_error(response, 400, "validation_error")["details"]["fields"]


def test_form_check_refuses_a_file_that_is_not_an_image(auth_client, gemini):
    data = {"exercise": "deadlift", "image": [upload(WINDOWS_EXE, "setup.jpg")]}

    response = auth_client.post(URL, data, format="multipart")

    assert response.status_code == 415
    assert gemini.requests == []


def test_form_check_rate_limited_with_retry_after(auth_client, gemini, settings):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RATE_LIMITS": {**settings.AI_SERVICE["RATE_LIMITS"], "form_check": "1/hour"},
    }
    gemini.reply_json(form_check_payload())
    assert check(auth_client).status_code == 200

    response = check(auth_client)

    error = assert_error(response, 429, "rate_limited")
    assert error["details"]["scope"] == "form_check"
    assert int(response["Retry-After"]) > 0


def test_form_check_maps_provider_failure_to_error_envelope(auth_client, gemini):
    gemini.prompt_blocked()

    response = check(auth_client)

    assert_error(response, 422, "content_blocked")


def test_form_check_unavailable_when_no_ai_configured(auth_client):
    response = check(auth_client)

    assert_error(response, 503, "ai_unavailable")


def test_form_check_route_is_not_taken_for_a_workout_id(auth_client):
    response = auth_client.get(URL)

    assert response.status_code == 405
