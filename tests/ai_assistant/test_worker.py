"""Recognition jobs on real Celery workers (subprocesses) over the Redis broker, against the
same test database: the path production takes, including a worker killed mid-job."""

import pytest
from django.conf import settings
from django.db import connection

from ai_assistant.models import AIUsage, RecognitionJob
from food.models import FoodLog
from tests.ai_assistant.conftest import STANDIN_KEY
from tests.ai_assistant.events import UserEvents
from tests.ai_assistant.factories import analysis_payload
from tests.ai_assistant.worker import Worker, publishing_to_redis, wait_until
from tests.storage.factories import jpeg_bytes, upload

URL = "/api/v1/ai/food/recognize"

pytestmark = [
    pytest.mark.skipif(
        not settings.REDIS_URL, reason="needs REDIS_URL: the workers' broker is Redis"
    ),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="needs DATABASE_URL (PostgreSQL): worker processes must reach the test database",
    ),
    pytest.mark.django_db(transaction=True),  # the workers only see committed rows
    pytest.mark.usefixtures("recognition_policy"),
]


@pytest.fixture
def workers(gemini, private_media, tmp_path):
    """Starts workers on demand; every one is killed when the test ends, however it ends."""
    started: list[Worker] = []
    env = {
        "GEMINI_API_KEY": STANDIN_KEY,
        "GEMINI_BASE_URL": gemini.url,
        "WORKER_MEDIA_ROOT": private_media,
    }

    def start() -> Worker:
        worker = Worker(tmp_path, env).start()
        started.append(worker)
        return worker

    with publishing_to_redis():
        try:
            yield start
        finally:
            for worker in started:
                worker.kill()


def status_of(job_id) -> str:
    return RecognitionJob.objects.values_list("status", flat=True).get(pk=job_id)


def test_recognition_runs_on_a_worker_and_answers_within_prefer_wait(
    auth_client, user, gemini, workers
):
    for _ in range(2):
        gemini.reply_json(analysis_payload(food_name="Shakshuka"))
    events = UserEvents(user)
    worker = workers()

    response = auth_client.post(
        URL, {"image": upload(jpeg_bytes())}, format="multipart", headers={"Prefer": "wait=25"}
    )

    assert response.status_code == 200, worker.log()
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["attempts"] == 1
    assert body["result"]["data"]["food_name"] == "Shakshuka"
    assert len(gemini.requests) == 2
    # The worker's event reaches this process through the shared (Redis) channel layer.
    event = events.next(timeout=5)
    assert event is not None, worker.log()
    assert (event["type"], event["job_id"], event["status"]) == (
        "job.finished",
        body["id"],
        "succeeded",
    )


def answers_kept(job_id) -> int:
    return len(RecognitionJob.objects.values_list("model_answers", flat=True).get(pk=job_id))


def paid_calls() -> int:
    """Model answers the provider delivered (and bills): the usage ledger's `ok` rows."""
    return AIUsage.objects.filter(endpoint="food.recognize", outcome="ok").count()


def start_job_with_one_answer_kept(auth_client, gemini, worker) -> str:
    """A job whose run has one of its two model answers stored and waits for the other."""
    gemini.reply_json(analysis_payload(food_name="Ramen"))  # the first call answers...
    gemini.hang(60)  # ...the second never does before the worker is killed
    response = auth_client.post(
        URL, {"image": upload(jpeg_bytes()), "log": "true"}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    wait_until(
        lambda: answers_kept(job_id) == 1,
        timeout=20,
        what="the first model answer to be stored on the job",
        worker_log=worker.log,
    )
    assert status_of(job_id) == "running"
    assert len(gemini.requests) == 2
    return job_id


def assert_finished_once_without_paying_twice(job_id, gemini) -> None:
    job = RecognitionJob.objects.get(pk=job_id)
    assert job.status == "succeeded"
    assert job.attempts == 2
    assert job.result["data"]["food_name"] == "Ramen"
    assert job.error is None
    assert FoodLog.objects.get().pk == job.food_log_id
    # The second run asked only for the answer the first run never got: three requests
    # reached the model (one cut off by the kill), two answers were delivered and billed,
    # as for a job that ran once.
    assert len(gemini.requests) == 3
    assert paid_calls() == 2
    assert len(job.model_answers) == 2


def test_job_of_a_worker_killed_mid_run_is_run_again_by_another(auth_client, gemini, workers):
    first = workers()
    job_id = start_job_with_one_answer_kept(auth_client, gemini, first)
    gemini.reply_json(analysis_payload(food_name="Ramen"))  # the one call the re-run needs

    # Main process and pool child at once, as when the machine dies: the message stays
    # unacknowledged in Redis until the visibility timeout (2 s here) hands it out again.
    first.kill()
    second = workers()

    wait_until(
        lambda: status_of(job_id) == "succeeded",
        timeout=20,
        what="the second worker to finish the job",
        worker_log=lambda: first.log() + second.log(),
    )
    assert_finished_once_without_paying_twice(job_id, gemini)


def test_job_of_a_killed_pool_child_is_handed_back_to_its_worker(auth_client, gemini, workers):
    worker = workers()
    job_id = start_job_with_one_answer_kept(auth_client, gemini, worker)
    gemini.reply_json(analysis_payload(food_name="Ramen"))

    # Only the child: the main process sees it lost and rejects the message back to the
    # queue (acks_late + reject_on_worker_lost); its next child runs the job again.
    worker.kill_pool_child()

    wait_until(
        lambda: status_of(job_id) == "succeeded",
        timeout=20,
        what="the worker's new pool child to finish the job",
        worker_log=worker.log,
    )
    assert "WorkerLostError" in worker.log()
    assert_finished_once_without_paying_twice(job_id, gemini)


def test_job_running_past_the_task_time_limit_fails_with_job_timeout(
    auth_client, gemini, workers, settings
):
    settings.AI_RECOGNITION = {
        **settings.AI_RECOGNITION,
        "SOFT_TIME_LIMIT_SECONDS": 1,
        "TIME_LIMIT_SECONDS": 10,
    }
    for _ in range(2):
        gemini.hang(15)  # answers later than the task may run
    worker = workers()

    response = auth_client.post(
        URL, {"image": upload(jpeg_bytes())}, format="multipart", headers={"Prefer": "wait=20"}
    )

    assert response.status_code == 200, worker.log()
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "job_timeout"
    assert body["result"] is None
