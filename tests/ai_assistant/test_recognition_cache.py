"""A photo seen before, answered in the request from the cache (POST /ai/food/recognize), and
`Prefer: wait` woken by the `job.finished` event rather than by polling the job."""

import io
import threading
import uuid

import pytest
from django.db import connection
from PIL import Image

from ai_assistant.models import RecognitionJob
from ai_assistant.recognition import jobs, tasks
from ai_assistant.recognition.tasks import recognize_food
from fitness import offline, ws
from food.models import FoodLog
from storage import tasks as storage_tasks
from storage.models import StoredFile
from storage.selectors import read_bytes
from tests.ai_assistant.factories import analysis_payload
from tests.asserts import assert_error
from tests.storage.factories import encode, halves, jpeg_bytes, stored_file, tagged_exif, upload

URL = "/api/v1/ai/food/recognize"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media", "recognition_policy")]


def job_url(job_id) -> str:
    return f"/api/v1/ai/jobs/{job_id}"


def recognize(client, data, *, prefer: str | None = None):
    headers = {"Prefer": prefer} if prefer else {}
    return client.post(URL, data, format="multipart", headers=headers)


@pytest.fixture
def queued(monkeypatch) -> list[str]:
    """The ids of the jobs queued for a run (the task still runs, eagerly, after commit)."""
    ids: list[str] = []
    real = tasks.queue_recognition

    def spy(job_id, **kwargs):
        ids.append(job_id)
        real(job_id, **kwargs)

    monkeypatch.setattr(tasks, "queue_recognition", spy)
    return ids


@pytest.fixture
def known_photo(auth_client, gemini, queued, django_capture_on_commit_callbacks) -> bytes:
    """A camera photo (large, rotated, with GPS) that one recognition has analysed."""
    photo = encode(
        halves((2000, 1500)), "JPEG", quality=95, exif=tagged_exif(orientation=6).tobytes()
    )
    for _ in range(2):
        gemini.reply_json(analysis_payload(food_name="Shakshuka"))
    with django_capture_on_commit_callbacks(execute=True):
        first = recognize(auth_client, {"image": upload(photo)})
    assert first.status_code == 202
    assert RecognitionJob.objects.get().status == "succeeded"
    assert len(gemini.requests) == 2
    queued.clear()
    return photo


# --- answered in the request ---------------------------------------------------------------


def test_known_photo_is_answered_in_the_request_without_a_job_run_or_a_model_call(
    auth_client, gemini, queued, known_photo, django_capture_on_commit_callbacks
):
    files_before = StoredFile.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        response = recognize(auth_client, {"image": upload(known_photo)})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["result"]["source"] == "cache"
    assert body["result"]["data"]["food_name"] == "Shakshuka"
    assert (body["attempts"], body["log"], body["food_log_id"], body["error"]) == (
        0,
        False,
        None,
        None,
    )
    assert body["image_id"] is None  # nothing is kept without log=true
    assert body["started_at"] and body["finished_at"]
    assert response["Location"] == f"http://testserver{job_url(body['id'])}"
    assert queued == []
    assert len(gemini.requests) == 2
    assert StoredFile.objects.count() == files_before
    # The job stays readable like any other.
    assert auth_client.get(job_url(body["id"])).json() == body


def test_known_photo_is_answered_for_another_user_too(
    other_client, gemini, queued, known_photo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = recognize(other_client, {"image": upload(known_photo)})

    assert response.status_code == 200
    assert response.json()["result"]["source"] == "cache"
    assert queued == []
    assert len(gemini.requests) == 2


def test_known_photo_with_log_true_stores_the_photo_and_logs_the_meal(
    auth_client, user, gemini, queued, known_photo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = recognize(auth_client, {"image": upload(known_photo), "log": "true"})

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["log"], body["result"]["source"]) == ("succeeded", True, "cache")
    assert queued == []
    assert len(gemini.requests) == 2
    # The photo, cleaned as every recognition photo is: upright, 1024 px, no metadata.
    stored = StoredFile.objects.get(pk=body["image_id"])
    assert (stored.owner, stored.purpose, stored.content_type) == (user, "food_photo", "image/jpeg")
    assert (stored.width, stored.height) == (768, 1024)
    with Image.open(io.BytesIO(read_bytes(stored))) as kept:
        assert not kept.getexif()
    assert stored.sha256 == RecognitionJob.objects.get(pk=body["id"]).image_sha256
    # A copy of the one the first recognition kept (no decode needed), in a file of its own.
    first = StoredFile.objects.exclude(pk=stored.pk).get()
    assert read_bytes(stored) == read_bytes(first)
    assert stored.key != first.key
    # The meal, as a run of the job would have logged it.
    log = auth_client.get(f"/api/v1/food/logs/{body['food_log_id']}").json()
    assert log["name"] == "Shakshuka"
    assert log["image_id"] == body["image_id"]
    assert log["ai_analysis"] == body["result"]["data"]
    assert log["metadata"] == {"source": "ai_recognition", "recognition_job_id": body["id"]}
    assert log["user_id"] == str(user.id)


@pytest.mark.django_db(transaction=True)
def test_known_photo_with_log_true_is_one_transaction_of_the_writes_it_needs(
    auth_client, user, known_photo, monkeypatch, django_assert_num_queries
):
    variants: list[str] = []
    monkeypatch.setattr(storage_tasks.make_variants, "delay", variants.append)
    sent: list[tuple[str, dict, bool]] = []

    def send(_user_id, kind, payload):
        sent.append((kind, payload, connection.in_atomic_block))

    for module in (offline, jobs):
        monkeypatch.setattr(module, "send_user_event", send)

    # The owner's copy to reuse; then one transaction: the owner's row locked (and loaded,
    # for analytics consent), the quota, the file, the meal, the owner's open challenges,
    # the job; after commit, the two analytics events. The variants are queued for a worker.
    with django_assert_num_queries(11) as captured:
        response = recognize(auth_client, {"image": upload(known_photo), "log": "true"})

    assert response.status_code == 200
    body = response.json()
    statements = [query["sql"].split()[0] for query in captured.captured_queries]
    assert [statements.count(word) for word in ("BEGIN", "COMMIT", "SAVEPOINT")] == [1, 1, 0]
    assert statements.count("INSERT") == 5  # file, meal, job, two analytics events
    assert variants == [body["image_id"]]
    assert StoredFile.objects.get(pk=body["image_id"]).owner == user
    assert FoodLog.objects.get(pk=body["food_log_id"]).image_id == uuid.UUID(body["image_id"])
    assert sorted((kind, in_transaction) for kind, _, in_transaction in sent) == [
        ("job.finished", False),
        ("sync.changed", False),
    ]
    [changed] = [payload for kind, payload, _ in sent if kind == "sync.changed"]
    assert changed["tables"] == ["food_logs", "stored_files"]


def test_known_photo_with_log_true_for_a_user_without_a_copy_is_cleaned_from_the_upload(
    other_client, other_user, gemini, queued, known_photo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = recognize(other_client, {"image": upload(known_photo), "log": "true"})

    assert response.status_code == 200
    body = response.json()
    assert body["result"]["source"] == "cache"
    stored = StoredFile.objects.get(pk=body["image_id"])
    assert stored.owner == other_user
    assert (stored.width, stored.height) == (768, 1024)
    with Image.open(io.BytesIO(read_bytes(stored))) as kept:
        assert not kept.getexif()
    assert FoodLog.objects.get(pk=body["food_log_id"]).owner == other_user
    assert queued == []
    assert len(gemini.requests) == 2


def test_known_stored_file_is_answered_in_the_request(
    auth_client, user, gemini, queued, django_capture_on_commit_callbacks
):
    photo = stored_file(user, jpeg_bytes((640, 480)), purpose="food_photo")
    for _ in range(2):
        gemini.reply_json(analysis_payload())
    with django_capture_on_commit_callbacks(execute=True):
        assert recognize(auth_client, {"file_id": str(photo.id)}).status_code == 202
    queued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = recognize(auth_client, {"file_id": str(photo.id), "log": "true"})

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["image_id"]) == ("succeeded", str(photo.id))
    assert FoodLog.objects.get(pk=body["food_log_id"]).image_id == photo.id
    assert queued == []
    assert len(gemini.requests) == 2


def test_known_photo_sent_twice_with_one_client_id_is_one_job_and_one_log(
    auth_client, known_photo, django_capture_on_commit_callbacks
):
    job_id = "0b6f2a9e-1c7d-4e3a-8f51-2d9c4b7a6e10"
    data = {"image": upload(known_photo), "log": "true", "id": job_id}

    with django_capture_on_commit_callbacks(execute=True):
        first = recognize(auth_client, data)
        again = recognize(auth_client, {**data, "image": upload(known_photo)})

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert FoodLog.objects.count() == 1
    assert RecognitionJob.objects.filter(pk=job_id).count() == 1


# --- the same refusals as for any photo -----------------------------------------------------


def test_known_photo_still_counts_against_the_allowance(auth_client, gemini, settings):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RATE_LIMITS": {**settings.AI_SERVICE["RATE_LIMITS"], "food_recognition": "1/hour"},
    }
    photo = jpeg_bytes((320, 240))
    for _ in range(2):
        gemini.reply_json(analysis_payload())
    # Run by hand: eager Celery would run it inside the request, before the second.
    first = recognize(auth_client, {"image": upload(photo)}).json()
    recognize_food.delay(first["id"])
    jobs_before = RecognitionJob.objects.count()

    response = recognize(auth_client, {"image": upload(photo), "log": "true"})

    assert_error(response, 429, "rate_limited")
    assert RecognitionJob.objects.count() == jobs_before
    assert not FoodLog.objects.exists()
    assert StoredFile.objects.count() == 1


def test_known_photo_with_log_true_over_the_quota_stores_and_logs_nothing(
    auth_client, known_photo, settings
):
    settings.STORAGE_USER_QUOTA_BYTES = StoredFile.objects.get().size + 10
    jobs_before = RecognitionJob.objects.count()

    response = recognize(auth_client, {"image": upload(known_photo), "log": "true"})

    assert_error(response, 413, "quota_exceeded")
    assert RecognitionJob.objects.count() == jobs_before
    assert StoredFile.objects.count() == 1
    assert not FoodLog.objects.exists()


def test_known_photo_over_the_upload_limit_is_refused(auth_client, known_photo, settings):
    settings.STORAGE_MAX_UPLOAD_BYTES = len(known_photo) - 1

    response = recognize(auth_client, {"image": upload(known_photo)})

    assert_error(response, 413, "file_too_large")
    assert RecognitionJob.objects.count() == 1


def test_known_photo_with_another_users_job_id_answers_409(auth_client, other_client, known_photo):
    theirs = recognize(other_client, {"image": upload(jpeg_bytes())}).json()["id"]

    response = recognize(auth_client, {"image": upload(known_photo), "id": theirs})

    assert_error(response, 409, "id_conflict")
    assert RecognitionJob.objects.count() == 2


def test_known_photo_is_unavailable_when_ai_is_no_longer_configured(
    auth_client, known_photo, settings
):
    settings.GEMINI_API_KEY = ""

    response = recognize(auth_client, {"image": upload(known_photo)})

    assert_error(response, 503, "ai_unavailable")
    assert RecognitionJob.objects.count() == 1


def test_part_of_a_known_photo_is_another_photo_checked_from_its_bytes(auth_client, known_photo):
    response = recognize(auth_client, {"image": upload(known_photo[:400], "meal.jpg")})

    assert_error(response, 400, "invalid_image")
    assert RecognitionJob.objects.count() == 1


# --- Prefer: wait ---------------------------------------------------------------------------


class JobReads:
    """Counts this thread's reads of the jobs table; `reads(n)` waits for the n-th."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = threading.Condition()

    def __call__(self, execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("SELECT") and '"ai_assistant_recognitionjob"' in sql:
            with self._changed:
                self.count += 1
                self._changed.notify_all()
        return execute(sql, params, many, context)

    def wait_for(self, count: int, timeout: float = 20) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= count, timeout)


@pytest.fixture
def woken_by(monkeypatch) -> list[dict]:
    """Each event a waiting request received (a wait that timed out receives none)."""
    events: list[dict] = []
    real = jobs._announces

    def spy(event, job):
        events.append(event)
        return real(event, job)

    monkeypatch.setattr(jobs, "_announces", spy)
    return events


def pending_job(owner) -> RecognitionJob:
    image = stored_file(owner, jpeg_bytes((320, 240)), purpose="food_photo")
    return RecognitionJob.objects.create(owner=owner, image=image)


def wait_in_thread(client, job, reads: JobReads) -> dict:
    """GET the job with `Prefer: wait` in this thread, its reads counted; returns the
    answer once the request is over."""
    answer: dict = {}
    with connection.execute_wrapper(reads):
        answer["response"] = client.get(job_url(job.pk), headers={"Prefer": "wait=25"})
    return answer


@pytest.mark.django_db(transaction=True)
def test_prefer_wait_wakes_on_the_job_finished_event_without_polling(
    auth_client, user, gemini, settings, woken_by
):
    # No re-read for lost events within the wait: only the event can wake it.
    settings.AI_RECOGNITION = {**settings.AI_RECOGNITION, "WAIT_RECHECK_SECONDS": 60}
    job = pending_job(user)
    for _ in range(2):
        gemini.reply_json(analysis_payload(food_name="Porridge"), delay=0.3)
    reads = JobReads()

    def finish_once_subscribed():
        # Read 1 is the view's lookup, read 2 the check once subscribed to the events.
        try:
            assert reads.wait_for(2)
            recognize_food.delay(str(job.pk))
        finally:
            connection.close()  # this thread's own

    worker = threading.Thread(target=finish_once_subscribed)
    worker.start()
    response = wait_in_thread(auth_client, job, reads)["response"]
    worker.join(timeout=20)

    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert response.json()["result"]["data"]["food_name"] == "Porridge"
    # One wait, ended by this job's event; one read after it: no polling in between.
    [event] = woken_by
    assert (event["type"], event["job_id"]) == ("job.finished", str(job.pk))
    assert reads.count == 3


@pytest.mark.django_db(transaction=True)
def test_prefer_wait_reads_the_job_again_when_its_event_is_lost(
    auth_client, user, settings, woken_by
):
    settings.AI_RECOGNITION = {**settings.AI_RECOGNITION, "WAIT_RECHECK_SECONDS": 0.2}
    job = pending_job(user)
    reads = JobReads()

    def finish_silently():
        try:
            assert reads.wait_for(2)
            RecognitionJob.objects.filter(pk=job.pk).update(
                status="failed", error={"code": "job_timeout", "message": "Late.", "details": {}}
            )
        finally:
            connection.close()

    worker = threading.Thread(target=finish_silently)
    worker.start()
    response = wait_in_thread(auth_client, job, reads)["response"]
    worker.join(timeout=20)

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["error"]["code"] == "job_timeout"
    assert woken_by == []  # no event came: the re-read after WAIT_RECHECK_SECONDS found it


@pytest.mark.django_db(transaction=True)
def test_prefer_wait_is_not_woken_by_another_jobs_event(auth_client, user, settings, woken_by):
    settings.AI_RECOGNITION = {**settings.AI_RECOGNITION, "WAIT_RECHECK_SECONDS": 60}
    job, other = pending_job(user), pending_job(user)
    reads = JobReads()

    def announce_other_then_this():
        try:
            assert reads.wait_for(2)
            ws.send_user_event(user.pk, "job.finished", {"job_id": str(other.pk)})
            RecognitionJob.objects.filter(pk=job.pk).update(status="succeeded")
            ws.send_user_event(user.pk, "job.finished", {"job_id": str(job.pk)})
        finally:
            connection.close()

    worker = threading.Thread(target=announce_other_then_this)
    worker.start()
    response = wait_in_thread(auth_client, job, reads)["response"]
    worker.join(timeout=20)

    assert response.json()["status"] == "succeeded"
    assert [event["job_id"] for event in woken_by] == [str(other.pk), str(job.pk)]
    assert reads.count == 3  # the other job's event read nothing


def test_a_known_photo_that_loses_the_race_for_its_job_id_logs_no_second_meal(
    user, auth_client, known_photo, monkeypatch, django_capture_on_commit_callbacks
):
    # The other request with this id commits between this one's replay check and its insert.
    job_id = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        first = recognize(auth_client, {"image": upload(known_photo), "log": "true", "id": job_id})
    assert first.status_code == 200
    logs_before, files_before = FoodLog.objects.count(), StoredFile.objects.count()
    real_replay = jobs._replay
    calls = []

    def replay_missing_at_first(owner, wanted):
        calls.append(wanted)
        return None if len(calls) == 1 else real_replay(owner, wanted)

    monkeypatch.setattr(jobs, "_replay", replay_missing_at_first)

    with django_capture_on_commit_callbacks(execute=True):
        again = recognize(auth_client, {"image": upload(known_photo), "log": "true", "id": job_id})

    assert again.status_code == 200
    assert len(calls) == 2  # the check that missed it, then the race's replay
    assert again.json()["food_log_id"] == first.json()["food_log_id"]
    assert FoodLog.objects.count() == logs_before
    assert StoredFile.objects.count() == files_before  # its copy rolled back with its job
