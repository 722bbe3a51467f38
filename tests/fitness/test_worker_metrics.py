"""A real Celery worker (prefork, on the Redis broker) with WORKER_METRICS_PORT and
PROMETHEUS_MULTIPROC_DIR: its main process answers /metrics for the pool child that ran the
task, behind the same token check as the API's."""

import socket
import time

import httpx
import pytest
from django.conf import settings
from django.db import connection

from storage.tasks import delete_expired_files
from tests.ai_assistant.worker import Worker, publishing_to_redis
from tests.scrape import TOKEN, parse, value

pytestmark = [
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: the broker is Redis"),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="needs DATABASE_URL (PostgreSQL): the worker reaches the test database",
    ),
    pytest.mark.django_db(transaction=True),
]

TASK = "storage.tasks.delete_expired_files"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scrape(url: str) -> dict | None:
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    except httpx.TransportError:
        return None  # not listening yet
    assert response.status_code == 200
    return parse(response.text)


def test_a_worker_reports_its_pool_on_its_own_metrics_port(tmp_path):
    port = _free_port()
    (tmp_path / "metrics").mkdir()
    env = {
        "WORKER_METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "WORKER_MEDIA_ROOT": str(tmp_path / "media"),
    }
    url = f"http://127.0.0.1:{port}/metrics"
    with publishing_to_redis():
        worker = Worker(tmp_path, env).start()
        try:
            delete_expired_files.delay()
            deadline = time.monotonic() + 60
            samples = None
            while not samples or not value(samples, "celery_tasks_total", task=TASK):
                assert time.monotonic() < deadline, worker.log()
                time.sleep(0.02)
                samples = _scrape(url)
            refused = httpx.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5)
        finally:
            worker.kill()

    assert value(samples, "celery_tasks_total", task=TASK, outcome="success") == 1
    assert value(samples, "celery_task_queue_wait_seconds_count", task=TASK) == 1
    assert value(samples, "celery_task_duration_seconds_count", task=TASK) == 1
    assert refused.status_code == 403
