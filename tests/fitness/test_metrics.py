"""/metrics: who may scrape it, and that each metric moves when its event happens (read
with prometheus_client's own parser)."""

import ipaddress
import os
import subprocess
import sys
import threading
import time

import pytest
from celery.exceptions import AlwaysEagerIgnored
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import AsyncClient

from accounts import tokens
from fitness.asgi import application
from fitness.celery import app as celery_app
from fitness.observability import metrics
from fitness.observability.metrics import read_metrics
from fitness.observability.tasks import QUEUED_AT_HEADER
from storage.tasks import delete_expired_files
from tests.factories import DEFAULT_PASSWORD
from tests.food.factories import FoodLogFactory
from tests.scrape import TOKEN, parse, scrape, value

pytestmark = pytest.mark.django_db


# --- access ---------------------------------------------------------------------------------


def test_metrics_refuses_a_scraper_without_the_token(api_client):
    assert api_client.get("/metrics").status_code == 403
    wrong = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 403
    assert b"http_requests_total" not in wrong.content


def test_metrics_answers_the_token(api_client):
    response = api_client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"# TYPE http_requests_total counter" in response.content


def test_metrics_answers_an_allowed_network_without_a_token(api_client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_CIDRS = [ipaddress.ip_network("127.0.0.0/8")]
    assert api_client.get("/metrics", REMOTE_ADDR="127.0.0.9").status_code == 200
    assert api_client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_metrics_refuses_everyone_when_nothing_is_configured(api_client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_CIDRS = []
    assert api_client.get("/metrics").status_code == 403
    assert api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_metrics_behind_a_proxy_checks_the_forwarded_client(api_client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_CIDRS = [ipaddress.ip_network("10.0.0.0/8")]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # The load balancer (10.0.0.2) forwards a client from outside: refused.
    outside = api_client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert outside.status_code == 403


# --- each metric moves --------------------------------------------------------------------


def test_a_request_moves_the_http_metrics_by_route_and_status(api_client, auth_client, user):
    log = FoodLogFactory(owner=user)
    route = "/api/v1/food/logs/{log_id}"
    before = scrape(api_client)

    assert auth_client.get(f"/api/v1/food/logs/{log.id}").status_code == 200
    assert (
        auth_client.get("/api/v1/food/logs/6b1c0b9e-4f5e-4a57-9a4d-0c1f2a3b4c5d").status_code == 404
    )
    after = scrape(api_client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"method": "GET", "route": route, "status": "200"}
    assert moved("http_requests_total", **ok) == 1
    assert moved("http_requests_total", method="GET", route=route, status="404") == 1
    assert moved("http_request_duration_seconds_count", **ok) == 1
    assert moved("http_request_duration_seconds_sum", **ok) > 0
    assert moved("http_request_db_queries_count", method="GET", route=route) == 2
    assert moved("http_request_db_queries_sum", method="GET", route=route) >= 2
    assert not [name for name, labels in after if str(log.id) in str(labels)]


def test_a_task_run_moves_the_celery_metrics(api_client):
    task = "storage.tasks.delete_expired_files"
    before = scrape(api_client)

    delete_expired_files.delay()
    # A message that went through a broker carries when it was queued.
    delete_expired_files.apply(headers={QUEUED_AT_HEADER: time.time() - 2})
    after = scrape(api_client)

    assert (
        value(after, "celery_tasks_total", task=task, outcome="success")
        - value(before, "celery_tasks_total", task=task, outcome="success")
        == 2
    )
    assert (
        value(after, "celery_task_duration_seconds_count", task=task)
        - value(before, "celery_task_duration_seconds_count", task=task)
        == 2
    )
    waited = value(after, "celery_task_queue_wait_seconds_sum", task=task) - value(
        before, "celery_task_queue_wait_seconds_sum", task=task
    )
    assert waited >= 2


def test_queue_length_is_read_from_the_broker(api_client):
    queue = celery_app.conf.task_default_queue
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
    try:
        # send_task publishes whatever task_always_eager says: two messages wait in the queue.
        with pytest.warns(AlwaysEagerIgnored):
            celery_app.send_task("storage.tasks.delete_expired_files")
            celery_app.send_task("storage.tasks.delete_expired_files")
        assert value(scrape(api_client), "celery_queue_length", queue=queue) == 2
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    assert value(scrape(api_client), "celery_queue_length", queue=queue) == 0


def test_a_fork_waits_for_a_scrapes_read_of_the_broker(monkeypatch):
    # The worker's main process forks pool children while a scrape reads the broker on
    # another thread: forked mid-read, a child inherited the broker pool's lock held.
    reading, finish = threading.Event(), threading.Event()

    class Reading:
        def __enter__(self):
            reading.set()
            finish.wait(10)
            raise ConnectionError("the read is over")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(celery_app, "connection_for_read", Reading)
    scrape_thread = threading.Thread(target=lambda: list(metrics._BrokerQueues().collect()))
    scrape_thread.start()
    assert reading.wait(5)
    forked = threading.Event()

    def fork():
        child = os.fork()
        if child == 0:
            os._exit(0)
        os.waitpid(child, 0)
        forked.set()

    fork_thread = threading.Thread(target=fork)
    fork_thread.start()
    try:
        waited = not forked.wait(0.3)
    finally:
        finish.set()
        scrape_thread.join(5)
        fork_thread.join(5)

    assert waited
    assert forked.is_set()


def test_login_failures_and_the_lockout_are_counted(api_client, user, settings):
    settings.LOGIN_MAX_FAILURES = 3
    before = scrape(api_client)

    for _ in range(4):
        api_client.post(
            "/api/v1/auth/login", {"email": user.email, "password": "wrong"}, format="json"
        )
    after = scrape(api_client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("login_failures_total", surface="api", reason="invalid_credentials") == 3
    assert moved("login_failures_total", surface="api", reason="locked_out") == 1
    assert moved("login_lockouts_total", surface="api") == 1
    right = api_client.post(
        "/api/v1/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert right.status_code == 429


@pytest.mark.django_db(transaction=True)
async def test_open_websockets_are_counted_by_route(user):
    client = AsyncClient()

    async def scraped():
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        return parse(response.content.decode())

    route = {"route": "/ws/events/"}
    before = await scraped()
    access = await database_sync_to_async(tokens.issue_pair)(user)
    socket = WebsocketCommunicator(application, f"/ws/events/?token={access['access_token']}")
    assert (await socket.connect(timeout=5))[0]
    during = await scraped()
    await socket.disconnect(timeout=5)
    after = await scraped()

    assert (
        value(during, "websocket_connections_open", **route)
        - value(before, "websocket_connections_open", **route)
        == 1
    )
    assert value(after, "websocket_connections_open", **route) == value(
        before, "websocket_connections_open", **route
    )
    assert (
        value(after, "websocket_connections_total", **route)
        - value(before, "websocket_connections_total", **route)
        == 1
    )


# --- several processes, one scrape ----------------------------------------------------------

# A process of its own (as a Celery child or a uvicorn worker is) runs a real task through
# Celery's tracer, so its metrics land in the shared directory.
_RUN_A_TASK = """
import django
django.setup()
from fitness.celery import app


@app.task(name="tests.noop")
def noop():
    return None


noop.apply()
"""


def test_multiprocess_mode_adds_up_the_processes(api_client, tmp_path, monkeypatch):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", _RUN_A_TASK],
            env=env,
            check=True,
            timeout=120,
            cwd=django_settings.BASE_DIR,
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    samples = scrape(api_client)

    task = "tests.noop"
    assert value(samples, "celery_tasks_total", task=task, outcome="success") == 2
    assert value(samples, "celery_task_duration_seconds_count", task=task) == 2


def test_read_metrics_reports_what_a_scrape_reports(api_client):
    api_client.get("/healthz")

    families = {family.name: family for family in read_metrics()}
    samples = [
        sample
        for sample in families["http_requests"].samples
        if sample.name == "http_requests_total" and sample.labels["route"] == "/healthz"
    ]
    assert samples
    assert samples[0].value == value(
        scrape(api_client), "http_requests_total", route="/healthz", status="200", method="GET"
    )
    assert "celery_queue_length" not in families
