"""POST /api/v1/ai/food/recognize and GET /api/v1/ai/jobs/{id}, with the task run by eager
Celery after commit, through the real SDK against the Gemini stand-in."""

import base64
import hashlib
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from ai_assistant.models import AIUsage, RecognitionJob
from ai_assistant.recognition.schemas import FoodAnalysis
from ai_assistant.recognition.tasks import recognize_food
from storage.models import StoredFile
from tests.ai_assistant.factories import analysis_payload, food_item
from tests.asserts import assert_error
from tests.storage.factories import (
    MAKE,
    WINDOWS_EXE,
    encode,
    halves,
    jpeg_bytes,
    png_declaring,
    stored_file,
    tagged_exif,
    upload,
)

URL = "/api/v1/ai/food/recognize"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media", "recognition_policy")]


def job_url(job_id) -> str:
    return f"/api/v1/ai/jobs/{job_id}"


def recognize(client, data=None, *, prefer: str | None = None):
    data = {"image": upload(jpeg_bytes())} if data is None else data
    headers = {"Prefer": prefer} if prefer else {}
    return client.post(URL, data, format="multipart", headers=headers)


def recognize_and_run(client, capture, data=None):
    """The request, then the task it queued (run eagerly once the request committed)."""
    with capture(execute=True):
        return recognize(client, data)


def sent_images(gemini) -> list[bytes]:
    return [
        base64.urlsafe_b64decode(part["inlineData"]["data"])
        for request in gemini.requests
        for content in request.body["contents"]
        for part in content["parts"]
        if "inlineData" in part
    ]


def reply_twice(gemini, payload=None):
    for _ in range(2):
        gemini.reply_json(payload or analysis_payload())


# --- accepting a photo ------------------------------------------------------------------


def test_recognize_answers_202_with_pending_job_and_its_location(auth_client, user, gemini):
    response = recognize(auth_client)

    assert response.status_code == 202
    body = response.json()
    job = RecognitionJob.objects.get()
    assert body["id"] == str(job.id)
    assert body["status"] == "pending"
    assert body["result"] is None
    assert body["error"] is None
    assert body["attempts"] == 0
    assert body["log"] is False
    assert body["image_id"] == str(job.image_id)
    assert response["Location"] == f"http://testserver{job_url(job.id)}"
    assert job.owner == user
    assert gemini.requests == []  # the task runs after commit, not in the request


def test_recognize_stores_photo_upright_small_and_without_metadata(auth_client, user, gemini):
    # 2000x1500 landscape that says "rotate 90° clockwise", with GPS and a camera make.
    photo = encode(
        halves((2000, 1500)), "JPEG", quality=95, exif=tagged_exif(orientation=6).tobytes()
    )

    body = recognize(auth_client, {"image": upload(photo)}).json()

    stored = StoredFile.objects.get(pk=body["image_id"])
    assert stored.owner == user
    assert stored.purpose == "food_photo"
    assert stored.content_type == "image/jpeg"
    assert (stored.width, stored.height) == (768, 1024)  # upright, long side 1024
    with Image.open(io.BytesIO(_stored_bytes(stored))) as kept:
        assert kept.format == "JPEG"
        assert kept.size == (768, 1024)
        assert MAKE not in kept.getexif()
        assert not kept.getexif()
        red_top = kept.getpixel((384, 100))
        assert red_top[0] > 200 and red_top[2] < 60


def _stored_bytes(stored: StoredFile) -> bytes:
    from storage.selectors import read_bytes

    return read_bytes(stored)


@pytest.mark.parametrize(
    ("photo", "status", "code"),
    [
        (WINDOWS_EXE, 415, "unsupported_media_type"),
        (png_declaring(20_000, 20_000), 400, "image_too_large"),
    ],
)
def test_recognize_refuses_what_is_not_a_safe_image(auth_client, gemini, photo, status, code):
    response = recognize(auth_client, {"image": upload(photo, "meal.jpg")})

    assert_error(response, status, code)
    assert not RecognitionJob.objects.exists()
    assert not StoredFile.objects.exists()


def test_recognize_refuses_file_over_upload_limit(auth_client, gemini, settings):
    settings.STORAGE_MAX_UPLOAD_BYTES = 2048

    response = recognize(auth_client, {"image": upload(jpeg_bytes((512, 512)) + b"\0" * 4096)})

    assert_error(response, 413, "file_too_large")
    assert not RecognitionJob.objects.exists()


@pytest.mark.parametrize("fields", [{}, {"both": True}])
def test_recognize_needs_exactly_one_of_image_and_file_id(auth_client, user, gemini, fields):
    data = {}
    if fields:
        data = {"image": upload(jpeg_bytes()), "file_id": str(stored_file(user).id)}

    response = recognize(auth_client, data)

    assert_error(response, 400, "validation_error")
    assert not RecognitionJob.objects.exists()


def test_recognize_unavailable_when_no_ai_configured(auth_client):
    response = recognize(auth_client)

    assert_error(response, 503, "ai_unavailable")
    assert not RecognitionJob.objects.exists()
    assert not StoredFile.objects.exists()


def test_recognize_requires_authentication(api_client, gemini):
    assert recognize(api_client).status_code == 401


def test_recognize_rate_limited_with_retry_after_when_allowance_used(auth_client, gemini, settings):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RATE_LIMITS": {**settings.AI_SERVICE["RATE_LIMITS"], "food_recognition": "1/hour"},
    }
    assert recognize(auth_client).status_code == 202

    response = recognize(auth_client)

    error = assert_error(response, 429, "rate_limited")
    assert error["details"]["reason"] == "user_limit"
    assert 0 < int(response["Retry-After"]) <= 3600
    assert RecognitionJob.objects.count() == 1
    assert StoredFile.objects.count() == 1


def test_recognize_with_client_id_twice_returns_the_same_job(auth_client, gemini):
    job_id = "5b0e4c6e-4a53-4d7c-9f59-6d0f2a1f4a10"

    first = recognize(auth_client, {"image": upload(jpeg_bytes()), "id": job_id})
    again = recognize(auth_client, {"image": upload(jpeg_bytes()), "id": job_id})

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == job_id
    assert RecognitionJob.objects.count() == 1
    assert StoredFile.objects.count() == 1


def test_recognize_with_another_users_job_id_answers_409(auth_client, other_client, gemini):
    job_id = recognize(other_client).json()["id"]

    response = recognize(auth_client, {"image": upload(jpeg_bytes()), "id": job_id})

    assert_error(response, 409, "id_conflict")
    assert RecognitionJob.objects.count() == 1


# --- the job ---------------------------------------------------------------------------


def test_recognize_job_succeeds_with_food_analysis(
    auth_client, user, gemini, django_capture_on_commit_callbacks
):
    reply_twice(gemini)

    job_id = recognize_and_run(auth_client, django_capture_on_commit_callbacks).json()["id"]
    response = auth_client.get(job_url(job_id))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["attempts"] == 1
    assert body["error"] is None
    assert body["started_at"] and body["finished_at"]
    result = body["result"]
    assert set(result) == {"data", "confidence", "processing_time", "source"}
    assert result["source"] == "gemini"
    assert result["data"] == FoodAnalysis.model_validate(analysis_payload()).model_dump(mode="json")
    assert result["confidence"] == 0.9  # two answers that agree keep their confidence
    # Two analyses of the one preprocessed photo, by the vision model, as JSON.
    assert len(gemini.requests) == 2
    job = RecognitionJob.objects.get()
    assert sent_images(gemini) == [_stored_bytes(job.image)] * 2
    assert job.image_sha256 == hashlib.sha256(_stored_bytes(job.image)).hexdigest()
    for request in gemini.requests:
        assert request.generation_config["responseMimeType"] == "application/json"
    usage = AIUsage.objects.filter(endpoint="food.recognize")
    assert [(row.user_id, row.outcome) for row in usage] == [(user.id, "ok")] * 2


def test_recognize_job_for_a_stored_file_shows_gemini_a_1024px_jpeg(
    auth_client, user, gemini, django_capture_on_commit_callbacks
):
    stored = stored_file(user, encode(halves((1600, 1200)), "PNG"))
    reply_twice(gemini)

    body = recognize_and_run(
        auth_client, django_capture_on_commit_callbacks, {"file_id": str(stored.id)}
    ).json()

    assert body["image_id"] == str(stored.id)
    assert RecognitionJob.objects.get().status == "succeeded"
    [first, second] = sent_images(gemini)
    assert first == second
    with Image.open(io.BytesIO(first)) as shown:
        assert (shown.format, shown.size) == ("JPEG", (1024, 768))


def test_recognize_refuses_another_users_file_id(auth_client, other_user, gemini):
    theirs = stored_file(other_user)

    response = recognize(auth_client, {"file_id": str(theirs.id)})

    assert "file_id" in assert_error(response, 400, "validation_error")["details"]["fields"]
    assert not RecognitionJob.objects.exists()


def test_recognize_answers_same_photo_from_cache_without_calling_gemini(
    auth_client, other_client, gemini, django_capture_on_commit_callbacks
):
    photo = jpeg_bytes((300, 200))
    reply_twice(gemini)
    first = recognize_and_run(
        auth_client, django_capture_on_commit_callbacks, {"image": upload(photo)}
    ).json()

    again = recognize_and_run(
        other_client, django_capture_on_commit_callbacks, {"image": upload(photo)}
    ).json()

    assert len(gemini.requests) == 2
    cached = other_client.get(job_url(again["id"])).json()
    assert cached["status"] == "succeeded"
    assert cached["result"]["source"] == "cache"
    assert (
        cached["result"]["data"] == auth_client.get(job_url(first["id"])).json()["result"]["data"]
    )


def test_recognize_consolidates_two_disagreeing_analyses(
    auth_client, gemini, django_capture_on_commit_callbacks
):
    gemini.reply_json(
        analysis_payload([food_item("Boiled egg", 100, 150, 12, 1, 10)], confidence=0.9)
    )
    gemini.reply_json(
        analysis_payload([food_item("Boiled eggs", 120, 250, 16, 3, 14)], confidence=0.8)
    )

    job_id = recognize_and_run(auth_client, django_capture_on_commit_callbacks).json()["id"]

    result = auth_client.get(job_url(job_id)).json()["result"]
    [item] = result["data"]["item_breakdown"]["items"]
    assert (item["grams"], item["calories"], item["protein"], item["carbs"], item["fat"]) == (
        110.0,
        200.0,
        14.0,
        2.0,
        12.0,
    )
    assert result["data"]["item_breakdown"]["totals"]["calories"] == 200.0
    # mean confidence 0.85, scaled by how close the calories are (150 / 250)
    assert result["confidence"] == result["data"]["confidence"] == 0.51


def test_recognize_uses_the_answer_that_came_when_the_other_analysis_fails(
    auth_client, gemini, django_capture_on_commit_callbacks
):
    gemini.reply_json(analysis_payload(food_name="Omelette"))
    gemini.error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")

    job_id = recognize_and_run(auth_client, django_capture_on_commit_callbacks).json()["id"]

    body = auth_client.get(job_url(job_id)).json()
    assert body["status"] == "succeeded"
    assert body["result"]["data"]["food_name"] == "Omelette"


def test_recognize_with_log_true_logs_the_meal_with_its_photo(
    auth_client, user, gemini, django_capture_on_commit_callbacks
):
    reply_twice(gemini)

    body = recognize_and_run(
        auth_client,
        django_capture_on_commit_callbacks,
        {"image": upload(jpeg_bytes()), "log": "true"},
    ).json()

    job = auth_client.get(job_url(body["id"])).json()
    assert job["status"] == "succeeded"
    assert job["log"] is True
    log = auth_client.get(f"/api/v1/food/logs/{job['food_log_id']}").json()
    analysis = job["result"]["data"]
    assert log["name"] == analysis["food_name"] == "Eggs on toast"
    assert log["calories"] == 235
    assert (log["protein"], log["carbs"], log["fat"]) == (15.7, 16.1, 12.0)
    assert log["image_id"] == job["image_id"]
    assert log["image_url"].startswith("http://testserver/api/v1/storage/signed/")
    assert log["ai_analysis"] == analysis
    assert log["metadata"] == {"source": "ai_recognition", "recognition_job_id": body["id"]}
    assert log["user_id"] == str(user.id)


def test_recognize_with_log_true_still_logs_when_the_photo_expired_meanwhile(
    auth_client, user, gemini
):
    reply_twice(gemini)
    body = recognize(auth_client, {"image": upload(jpeg_bytes()), "log": "true"}).json()
    StoredFile.objects.filter(pk=body["image_id"]).update(
        expiry=timezone.now() - timedelta(minutes=1)
    )

    recognize_food.delay(body["id"])

    job = auth_client.get(job_url(body["id"])).json()
    assert job["status"] == "succeeded"
    log = auth_client.get(f"/api/v1/food/logs/{job['food_log_id']}").json()
    assert log["image_id"] is None
    assert log["ai_analysis"] == job["result"]["data"]


def test_recognize_with_log_true_logs_nothing_when_the_job_fails(
    auth_client, gemini, django_capture_on_commit_callbacks
):
    for _ in range(2):
        gemini.error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")

    body = recognize_and_run(
        auth_client,
        django_capture_on_commit_callbacks,
        {"image": upload(jpeg_bytes()), "log": "true"},
    ).json()

    job = auth_client.get(job_url(body["id"])).json()
    assert job["status"] == "failed"
    assert job["food_log_id"] is None
    assert auth_client.get("/api/v1/food/logs").json()["total"] == 0


def test_recognize_job_fails_with_invalid_key_when_provider_rejects_the_key(
    auth_client, gemini, django_capture_on_commit_callbacks
):
    for _ in range(2):
        gemini.error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")

    job_id = recognize_and_run(auth_client, django_capture_on_commit_callbacks).json()["id"]

    body = auth_client.get(job_url(job_id)).json()
    assert body["status"] == "failed"
    assert body["result"] is None
    assert body["error"]["code"] == "invalid_key"
    assert body["error"]["message"]
    assert body["attempts"] == 1  # not a transient failure: no retry
    assert len(gemini.requests) == 2
    assert set(AIUsage.objects.values_list("outcome", flat=True)) == {"invalid_key"}


def test_recognize_job_fails_with_network_error_after_client_and_task_retries(
    auth_client, gemini, settings, django_capture_on_commit_callbacks
):
    settings.AI_RECOGNITION = {**settings.AI_RECOGNITION, "MAX_RETRIES": 1}
    # Two runs of the task x two analyses x three attempts each.
    for _ in range(12):
        gemini.error(500, "INTERNAL", "Internal error encountered.")

    job_id = recognize_and_run(auth_client, django_capture_on_commit_callbacks).json()["id"]

    body = auth_client.get(job_url(job_id)).json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "network_error"
    assert body["attempts"] == 2
    assert len(gemini.requests) == 12
    usage = AIUsage.objects.filter(endpoint="food.recognize")
    assert [(row.outcome, row.attempts) for row in usage] == [("network_error", 3)] * 4


def test_recognize_job_succeeds_when_task_retry_follows_transient_failure(
    auth_client, gemini, settings, django_capture_on_commit_callbacks
):
    settings.AI_RECOGNITION = {**settings.AI_RECOGNITION, "MAX_RETRIES": 2}
    for _ in range(6):
        gemini.error(503, "UNAVAILABLE", "The model is overloaded.")
    reply_twice(gemini)

    job_id = recognize_and_run(auth_client, django_capture_on_commit_callbacks).json()["id"]

    body = auth_client.get(job_url(job_id)).json()
    assert body["status"] == "succeeded"
    assert body["attempts"] == 2
    assert body["error"] is None
    assert len(gemini.requests) == 8


def test_recognize_job_fails_when_its_photo_was_deleted_before_it_ran(auth_client, gemini):
    body = recognize(auth_client).json()  # queued, not run
    assert auth_client.delete(f"/api/v1/storage/{body['image_id']}").status_code == 204

    recognize_food.delay(body["id"])

    job = auth_client.get(job_url(body["id"])).json()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "image_missing"
    assert job["image_id"] is None
    assert gemini.requests == []


# --- reading jobs ------------------------------------------------------------------------


def test_job_detail_is_404_for_another_users_job(auth_client, other_client, gemini):
    job_id = recognize(other_client).json()["id"]

    response = auth_client.get(job_url(job_id))

    assert_error(response, 404, "not_found")
    assert other_client.get(job_url(job_id)).status_code == 200


def test_job_detail_is_404_for_unknown_id(auth_client):
    response = auth_client.get(job_url("00000000-0000-4000-8000-000000000000"))

    assert response.status_code == 404


def test_recognize_with_prefer_wait_answers_202_when_job_not_done_in_time(auth_client, gemini):
    # The queued task never runs here (the test's transaction is never committed).
    response = recognize(auth_client, prefer="wait=1")

    assert response.status_code == 202
    assert response.json()["status"] == "pending"


@pytest.mark.django_db(transaction=True)
def test_recognize_with_prefer_wait_answers_200_with_finished_job(auth_client, gemini):
    reply_twice(gemini)

    response = recognize(auth_client, prefer="respond-async, wait=10")

    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert response.json()["result"]["source"] == "gemini"
