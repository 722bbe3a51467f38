"""One Cloud Logging line per request, Celery task and WebSocket connect/close, read back as
the JSON the console handler writes."""

import io
import json
import logging

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from accounts import tokens
from fitness.asgi import application
from fitness.logging import CloudLoggingFormatter, RequestIDFilter
from storage.tasks import delete_expired_files
from tests.food.factories import FoodLogFactory

pytestmark = pytest.mark.django_db


class Captured:
    """The lines the service's formatter writes while the test runs."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(CloudLoggingFormatter())
        self.handler.addFilter(RequestIDFilter())

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self, logger: str | None = None) -> list[dict]:
        parsed = [json.loads(line) for line in self.text.splitlines() if line]
        return [line for line in parsed if logger is None or line["logger"] == logger]


@pytest.fixture
def captured():
    capture = Captured()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture.handler)
    root.setLevel(logging.INFO)
    yield capture
    root.removeHandler(capture.handler)
    root.setLevel(previous)


def test_request_line_has_cloud_logging_fields_and_the_route_template(auth_client, user, captured):
    log = FoodLogFactory(owner=user)

    response = auth_client.get(f"/api/v1/food/logs/{log.id}", HTTP_X_REQUEST_ID="req-42")

    assert response.status_code == 200
    [line] = captured.lines("fitness.request")
    assert line["severity"] == "INFO"
    assert line["message"] == "GET /api/v1/food/logs/{log_id} 200"
    assert line["route"] == "/api/v1/food/logs/{log_id}"
    assert line["user_id"] == str(user.id)
    assert line["request_id"] == "req-42"
    assert line["db_queries"] >= 1
    assert line["time"].endswith("+00:00")
    http = line["httpRequest"]
    assert http["requestMethod"] == "GET"
    assert http["requestUrl"] == "/api/v1/food/logs/{log_id}"
    assert http["status"] == 200
    assert http["latency"].endswith("s")
    assert str(log.id) not in captured.text
    # No trace is active without OpenTelemetry configured.
    assert "logging.googleapis.com/trace" not in line


def test_request_line_leaves_out_the_query_string(auth_client, captured):
    auth_client.get("/api/v1/food/logs?page=2&secret_marker=1")

    [line] = captured.lines("fitness.request")
    assert line["httpRequest"]["requestUrl"] == "/api/v1/food/logs"
    assert "secret_marker" not in captured.text


def test_an_ai_503_is_one_warning_line_not_a_django_error(auth_client, captured):
    response = auth_client.post("/api/v1/ai/food/analyze-text", {"text": "an apple"}, format="json")

    assert response.status_code == 503
    lines = captured.lines()
    assert [line["severity"] for line in lines] == ["WARNING"]
    assert lines[0]["logger"] == "fitness.request"
    assert lines[0]["httpRequest"]["status"] == 503


def test_client_errors_are_warnings_and_unknown_paths_have_no_route(api_client, captured):
    api_client.get("/api/v1/food/logs")
    api_client.get("/no/such/page/123")

    unauthenticated, unknown = captured.lines()
    assert unauthenticated["severity"] == "WARNING"
    assert unauthenticated["status"] == 401
    assert unauthenticated["user_id"] is None
    assert unknown["route"] == "<unmatched>"
    assert "123" not in unknown["message"]
    assert not captured.lines("django.request")


def test_a_line_inside_a_span_names_its_trace_for_cloud_trace(settings, captured):
    settings.LOG_TRACE_PROJECT = "fitness-prod"
    context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    with trace.use_span(NonRecordingSpan(context)):
        logging.getLogger("tests").info("inside")

    [line] = captured.lines("tests")
    assert line["logging.googleapis.com/trace"] == (
        "projects/fitness-prod/traces/0af7651916cd43dd8448eb211c80319c"
    )
    assert line["logging.googleapis.com/spanId"] == "00f067aa0ba902b7"
    assert line["logging.googleapis.com/trace_sampled"] is True


def test_an_exception_goes_under_stack_trace(captured):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("tests").exception("failed")

    [line] = captured.lines("tests")
    assert line["severity"] == "ERROR"
    assert "RuntimeError: boom" in line["stack_trace"]


def test_a_celery_task_run_is_one_line_with_its_outcome(captured):
    delete_expired_files.delay()

    [line] = captured.lines("fitness.task")
    assert line["message"] == "Task storage.tasks.delete_expired_files success"
    assert line["severity"] == "INFO"
    assert line["task"] == "storage.tasks.delete_expired_files"
    assert line["outcome"] == "success"
    assert line["duration_ms"] >= 0
    assert line["task_id"]
    assert not captured.lines("celery.app.trace")


@pytest.mark.django_db(transaction=True)
async def test_websocket_connect_and_close_are_one_line_each(user, captured):
    access = await database_sync_to_async(tokens.issue_pair)(user)
    socket = WebsocketCommunicator(application, f"/ws/events/?token={access['access_token']}")
    connected, _ = await socket.connect(timeout=5)
    assert connected
    await socket.disconnect(code=1000, timeout=5)

    connect, close = captured.lines("fitness.websocket")
    assert connect["message"] == "WebSocket /ws/events/ connected"
    assert connect["event"] == "connect"
    assert connect["user_id"] == str(user.id)
    assert close["event"] == "close"
    assert close["close_code"] == 1000
    assert close["closed_by"] == "client"
    assert close["duration_ms"] >= 0
    assert access["access_token"] not in captured.text


@pytest.mark.django_db(transaction=True)
async def test_websocket_refused_for_a_bad_token_logs_the_close_code(captured):
    socket = WebsocketCommunicator(application, "/ws/ai/chat/abc/?token=not-a-token")
    await socket.connect(timeout=5)
    assert (await socket.receive_output(5))["code"] == 4401

    lines = captured.lines("fitness.websocket")
    assert [line["event"] for line in lines] == ["connect", "close"]
    assert lines[0]["route"] == "/ws/ai/chat/{session}/"
    assert lines[1]["close_code"] == 4401
    assert lines[1]["closed_by"] == "server"
    assert "not-a-token" not in captured.text
