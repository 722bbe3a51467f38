"""A photo recognition is one trace: the request on a real uvicorn process, the task it
queued on a real Celery worker (the context carried in the message), and the two Gemini
calls, exported over OTLP/HTTP to a receiver the test runs and decoded with
opentelemetry-proto."""

import json

import httpx
import pytest
from django.conf import settings
from django.db import connection

from accounts import tokens
from tests.ai_assistant.conftest import STANDIN_KEY
from tests.ai_assistant.factories import analysis_payload
from tests.ai_assistant.worker import Worker, publishing_to_redis
from tests.otlp_receiver import OTLPReceiver
from tests.servers import start_servers, stop_servers
from tests.storage.factories import jpeg_bytes

TASK = "ai_assistant.tasks.recognize_food"

pytestmark = [
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: the broker is Redis"),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="needs DATABASE_URL (PostgreSQL): the processes share the test database",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def receiver():
    otlp = OTLPReceiver().start()
    yield otlp
    otlp.stop()


def _calls_gemini(span) -> bool:
    return (
        span.kind == "SPAN_KIND_CLIENT"
        and span.attributes.get("gen_ai.operation.name") == "generate_content"
    )


def _ancestors(span, by_id) -> list:
    chain = []
    while span.parent_span_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def test_a_photo_recognition_is_one_trace_from_request_to_gemini(user, gemini, receiver, tmp_path):
    for _ in range(2):
        gemini.reply_json(analysis_payload(food_name="Shakshuka"))
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "GEMINI_API_KEY": STANDIN_KEY,
        "GEMINI_BASE_URL": gemini.url,
        "WORKER_MEDIA_ROOT": str(tmp_path / "media"),
    }
    access = tokens.issue_pair(user)["access_token"]
    with publishing_to_redis():
        worker = Worker(tmp_path, env).start()
        # The worker tests' settings: the real broker, not eager tasks, for the server too.
        servers, [address] = start_servers(
            1, DJANGO_SETTINGS_MODULE="tests.ai_assistant.worker_settings", **env
        )
        try:
            response = httpx.post(
                f"http://{address}/api/v1/ai/food/recognize",
                files={"image": ("meal.jpg", jpeg_bytes(), "image/jpeg")},
                headers={"Authorization": f"Bearer {access}", "Prefer": "wait=25"},
                timeout=60,
            )
            assert response.status_code == 200, worker.log()
            assert response.json()["status"] == "succeeded"
            # Each span is exported when it ends, so the task's run (which ends after both
            # Gemini calls) can reach the receiver a batch after them: wait for all of it.
            spans = receiver.wait_for(
                lambda spans: (
                    sum(_calls_gemini(s) for s in spans) >= 2
                    and any(s.kind == "SPAN_KIND_SERVER" for s in spans)
                    and any(s.kind == "SPAN_KIND_CONSUMER" and TASK in s.name for s in spans)
                ),
                timeout=30,
            )
        finally:
            stop_servers(servers)
            worker.kill()

    assert receiver.bad_requests == 0
    [request] = [s for s in spans if s.kind == "SPAN_KIND_SERVER" and "ai/food/recognize" in s.name]
    assert request.service == "fitness-api"
    assert request.is_root
    trace = [s for s in spans if s.trace_id == request.trace_id]
    by_id = {s.span_id: s for s in trace}
    assert [s for s in trace if s.is_root] == [request], "one trace, one root"

    [published] = [s for s in trace if s.kind == "SPAN_KIND_PRODUCER" and TASK in s.name]
    [run] = [s for s in trace if s.kind == "SPAN_KIND_CONSUMER" and TASK in s.name]
    assert published.service == "fitness-api"
    assert run.service == "fitness-worker"
    assert request in _ancestors(published, by_id)
    assert run.parent_span_id == published.span_id, "the worker continues the request's trace"

    gemini_calls = [s for s in trace if _calls_gemini(s)]
    assert len(gemini_calls) == 2
    assert all(run in _ancestors(call, by_id) for call in gemini_calls)
    assert all(call.service == "fitness-worker" for call in gemini_calls)
    assert all(
        call.attributes["gen_ai.request.model"] == "gemini-2.5-flash" for call in gemini_calls
    )
    assert all(call.attributes["gen_ai.usage.input_tokens"] > 0 for call in gemini_calls)
    # The database is traced on both sides.
    assert {s.service for s in trace if s.attributes.get("db.system") == "postgresql"} == {
        "fitness-api",
        "fitness-worker",
    }
    # The API key travels in a header, which no span records.
    assert STANDIN_KEY not in str([s.attributes for s in spans])

    # The worker's line for the run names the trace and the request that queued it.
    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    [task_line] = [line for line in lines if line.get("task") == TASK]
    assert task_line["outcome"] == "success"
    assert task_line["queue_wait_ms"] >= 0
    assert task_line["request_id"] == response.headers["X-Request-ID"]
    assert task_line["logging.googleapis.com/trace"] == request.trace_id
    assert task_line["logging.googleapis.com/spanId"] == run.span_id
