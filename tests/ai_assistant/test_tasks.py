"""The recognition task run by itself: idempotency, redelivery after a lost worker, the
stuck-job sweep and the `job.finished` event (eager Celery; the real worker is in
test_worker.py)."""

import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.utils import timezone

from accounts import tokens
from ai_assistant.client import get_ai_client
from ai_assistant.models import RecognitionJob
from ai_assistant.recognition import jobs
from ai_assistant.recognition import pipeline as recognition
from ai_assistant.recognition.tasks import fail_stuck_recognition_jobs, recognize_food
from fitness.asgi import application
from food.models import FoodLog
from storage import images
from tests.ai_assistant.events import UserEvents
from tests.ai_assistant.factories import analysis_payload
from tests.storage.factories import jpeg_bytes, stored_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media", "recognition_policy")]

Status = RecognitionJob.Status


def make_job(owner, **fields) -> RecognitionJob:
    """A job as the request leaves it (photo stored, task not run yet)."""
    image = stored_file(owner, jpeg_bytes((320, 240)), purpose="food_photo")
    return RecognitionJob.objects.create(owner=owner, image=image, **fields)


def age(job: RecognitionJob, seconds: float) -> None:
    RecognitionJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - timedelta(seconds=seconds)
    )


def reply_twice(gemini, **kwargs):
    for _ in range(2):
        gemini.reply_json(analysis_payload(), **kwargs)


def test_task_run_twice_stores_one_result_and_calls_gemini_once(user, gemini):
    job = make_job(user, log_food=True)
    reply_twice(gemini)

    recognize_food.delay(str(job.id))
    first = RecognitionJob.objects.get(pk=job.pk)
    recognize_food.delay(str(job.id))

    again = RecognitionJob.objects.get(pk=job.pk)
    assert again.status == Status.SUCCEEDED
    assert again.result == first.result
    assert again.finished_at == first.finished_at
    assert again.attempts == 1
    assert len(gemini.requests) == 2
    assert FoodLog.objects.get().pk == again.food_log_id


def test_task_reruns_job_left_running_by_a_lost_worker(user, gemini):
    # What a redelivered message finds: the first run claimed the job, then its worker died.
    job = make_job(user, status=Status.RUNNING, attempts=1, started_at=timezone.now())
    reply_twice(gemini)

    recognize_food.delay(str(job.id))

    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    assert job.attempts == 2


def kept(job: RecognitionJob, *names: str, model: str | None = None) -> list[dict]:
    """Model answers as a lost run stored them on the job, for its photo."""
    client = get_ai_client()
    jpeg = recognition.model_jpeg(job.image)
    key = recognition.photo_cache_key(jpeg, model or client.config.model_for("vision"))
    return [{"key": key, "analysis": analysis_payload(food_name=name)} for name in names]


def test_task_run_stores_each_model_answer_on_the_job(user, gemini):
    job = make_job(user)
    reply_twice(gemini)

    recognize_food.delay(str(job.id))

    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    [key] = {answer["key"] for answer in kept(job, "-")}
    assert [(answer["key"], answer["analysis"]["food_name"]) for answer in job.model_answers] == [
        (key, "Eggs on toast")
    ] * 2


def test_task_rerun_asks_only_for_the_answer_the_lost_run_missed(user, gemini):
    job = make_job(user, status=Status.RUNNING, attempts=1, started_at=timezone.now())
    RecognitionJob.objects.filter(pk=job.pk).update(model_answers=kept(job, "Paella"))
    gemini.reply_json(analysis_payload(food_name="Paella"))

    recognize_food.delay(str(job.id))

    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    assert job.result["data"]["food_name"] == "Paella"
    assert len(gemini.requests) == 1
    assert len(job.model_answers) == 2


def test_task_rerun_with_every_answer_kept_calls_no_model(user, gemini):
    job = make_job(user, status=Status.RUNNING, attempts=1, started_at=timezone.now())
    RecognitionJob.objects.filter(pk=job.pk).update(model_answers=kept(job, "Pho", "Pho"))

    recognize_food.delay(str(job.id))

    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    assert job.result["data"]["food_name"] == "Pho"
    assert gemini.requests == []


def test_task_rerun_ignores_answers_kept_for_another_model(user, gemini):
    job = make_job(user, status=Status.RUNNING, attempts=1, started_at=timezone.now())
    stale = kept(job, "Pho", "Pho", model="an-older-model")
    RecognitionJob.objects.filter(pk=job.pk).update(model_answers=stale)
    reply_twice(gemini)

    recognize_food.delay(str(job.id))

    job.refresh_from_db()
    assert job.result["data"]["food_name"] == "Eggs on toast"
    assert len(gemini.requests) == 2


def test_task_fails_job_started_too_many_times_without_calling_gemini(user, gemini, settings):
    limit = settings.AI_RECOGNITION["MAX_ATTEMPTS"]
    job = make_job(user, status=Status.RUNNING, attempts=limit)

    recognize_food.delay(str(job.id))

    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error["code"] == "job_attempts_exhausted"
    assert gemini.requests == []


def test_task_fails_job_when_ai_no_longer_configured(user):
    job = make_job(user)

    recognize_food.delay(str(job.id))

    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error["code"] == "ai_unavailable"


@pytest.mark.skipif(
    connection.vendor == "sqlite", reason="concurrent writers need PostgreSQL (DATABASE_URL)"
)
@pytest.mark.django_db(transaction=True)
def test_task_runs_at_once_store_one_outcome_and_announce_it_once(user, gemini):
    # Two deliveries of one message (a redelivery while the first run still works): both
    # run, the first to finish stores its result (and logs the meal), the other nothing.
    job = make_job(user, log_food=True)
    for _ in range(4):
        gemini.reply_json(analysis_payload(), delay=0.3)
    events = UserEvents(user)

    runs = [threading.Thread(target=recognize_food.delay, args=(str(job.id),)) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=20)

    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    assert job.attempts == 2
    assert FoodLog.objects.get().pk == job.food_log_id
    first = events.next()
    assert first["type"] == "job.finished"
    assert first["job_id"] == str(job.id)
    assert events.next(timeout=0.5) is None


def test_finished_job_is_announced_to_its_owner(
    user, other_user, gemini, django_capture_on_commit_callbacks
):
    job = make_job(user)
    reply_twice(gemini)
    mine, theirs = UserEvents(user), UserEvents(other_user)

    with django_capture_on_commit_callbacks(execute=True):
        recognize_food.delay(str(job.id))

    event = mine.next()
    job.refresh_from_db()
    assert event == {
        "type": "job.finished",
        "job_id": str(job.id),
        "kind": "food_recognition",
        "status": "succeeded",
        "result": job.result,
        "error": None,
        "food_log_id": None,
    }
    assert theirs.next(timeout=0.2) is None


@pytest.mark.django_db(transaction=True)
async def test_job_finished_event_reaches_owners_events_socket(user, gemini):
    job = await database_sync_to_async(make_job)(user)
    for _ in range(2):
        gemini.reply_json(analysis_payload(food_name="Porridge"))
    pair = await database_sync_to_async(tokens.issue_pair)(user)
    socket = WebsocketCommunicator(application, f"/ws/events/?token={pair['access_token']}")
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from())["type"] == "connected"

    await database_sync_to_async(recognize_food.delay)(str(job.id))

    event = await socket.receive_json_from(timeout=5)
    assert event["type"] == "job.finished"
    assert event["job_id"] == str(job.id)
    assert event["status"] == "succeeded"
    assert event["result"]["data"]["food_name"] == "Porridge"
    await socket.disconnect()


# --- the stuck-job sweep -----------------------------------------------------------------


def test_sweep_fails_jobs_stuck_running_or_never_picked_up(
    user, settings, django_capture_on_commit_callbacks
):
    policy = settings.AI_RECOGNITION
    stuck_running = make_job(user, status=Status.RUNNING, attempts=1)
    age(stuck_running, policy["STUCK_RUNNING_SECONDS"] + 1)
    lost_pending = make_job(user)
    age(lost_pending, policy["STUCK_PENDING_SECONDS"] + 1)
    busy = make_job(user, status=Status.RUNNING, attempts=1)
    age(busy, policy["STUCK_RUNNING_SECONDS"] - 30)
    queued = make_job(user)
    age(queued, policy["STUCK_RUNNING_SECONDS"] + 1)  # pending may wait longer than running
    done = make_job(user, status=Status.SUCCEEDED, result={"kept": True})
    age(done, policy["STUCK_PENDING_SECONDS"] * 10)
    events = UserEvents(user)

    with django_capture_on_commit_callbacks(execute=True):
        assert fail_stuck_recognition_jobs.delay().get() == 2

    statuses = dict(RecognitionJob.objects.values_list("pk", "status"))
    assert statuses == {
        stuck_running.pk: Status.FAILED,
        lost_pending.pk: Status.FAILED,
        busy.pk: Status.RUNNING,
        queued.pk: Status.PENDING,
        done.pk: Status.SUCCEEDED,
    }
    stuck_running.refresh_from_db()
    assert stuck_running.error["code"] == "job_timeout"
    assert stuck_running.finished_at is not None
    announced = {events.next()["job_id"], events.next()["job_id"]}
    assert announced == {str(stuck_running.pk), str(lost_pending.pk)}


def test_task_arriving_after_the_sweep_changes_nothing(user, gemini, settings):
    job = make_job(user, status=Status.RUNNING, attempts=1)
    age(job, settings.AI_RECOGNITION["STUCK_RUNNING_SECONDS"] + 1)
    fail_stuck_recognition_jobs.delay()

    recognize_food.delay(str(job.id))

    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error["code"] == "job_timeout"
    assert job.attempts == 1
    assert gemini.requests == []


def test_task_hands_job_back_when_every_decode_slot_is_taken(user, gemini, settings):
    job = make_job(user)
    # A photo the model is not shown as stored (larger than 1024 px) has to be decoded.
    RecognitionJob.objects.filter(pk=job.pk).update(
        image=stored_file(user, jpeg_bytes((2048, 1536)), purpose="food_photo")
    )
    settings.STORAGE_MAX_CONCURRENT_DECODES = 1
    settings.STORAGE_DECODE_WAIT_SECONDS = 0.05
    taken, done = threading.Event(), threading.Event()

    def hold():
        with images.decode_slot():
            taken.set()
            done.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(timeout=5)
    try:
        retry_in = jobs.run_job(job_id=job.pk, retries=0)
    finally:
        done.set()
        holder.join(timeout=5)

    job.refresh_from_db()
    assert retry_in == 1
    assert (job.status, job.error) == (Status.PENDING, None)
    assert gemini.requests == []
