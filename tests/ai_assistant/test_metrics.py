"""The AI metrics move with the Gemini calls, caches and recognition jobs behind them
(scraped from /metrics with prometheus_client's parser)."""

import pytest

from ai_assistant.models import RecognitionJob
from tests.ai_assistant.factories import analysis_payload
from tests.ai_assistant.gemini_standin import usage
from tests.scrape import scrape, value
from tests.storage.factories import jpeg_bytes, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media", "recognition_policy")]

MODEL = "gemini-2.5-flash"


def moved(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def test_a_gemini_call_moves_calls_tokens_latency_and_cost(
    api_client, auth_client, gemini, settings
):
    settings.AI_PRICE_INPUT_PER_MILLION = 1.0
    settings.AI_PRICE_OUTPUT_PER_MILLION = 4.0
    gemini.reply_json(analysis_payload(), usage_metadata=usage(prompt=100, output=40, thoughts=10))
    call = {"endpoint": "food.analyze_text", "model": MODEL}
    before = scrape(api_client)

    response = auth_client.post("/api/v1/ai/food/analyze-text", {"text": "two eggs"}, format="json")
    after = scrape(api_client)

    assert response.status_code == 200
    assert moved(before, after, "ai_requests_total", **call, outcome="ok") == 1
    assert moved(before, after, "ai_tokens_total", **call, direction="in") == 100
    assert moved(before, after, "ai_tokens_total", **call, direction="out") == 50
    assert moved(before, after, "ai_request_duration_seconds_count", **call) == 1
    assert moved(before, after, "ai_estimated_cost_usd_total", **call) == pytest.approx(
        (100 * 1.0 + 50 * 4.0) / 1_000_000
    )


def test_a_failed_gemini_call_is_counted_by_its_outcome(api_client, auth_client, gemini, settings):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RETRY": {**settings.AI_SERVICE["RETRY"], "max_attempts": 1},
    }
    gemini.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.")
    before = scrape(api_client)

    auth_client.post("/api/v1/ai/food/analyze-text", {"text": "two eggs"}, format="json")

    after = scrape(api_client)
    assert (
        moved(
            before, after, "ai_requests_total", endpoint="food.analyze_text", outcome="rate_limited"
        )
        == 1
    )


def test_the_text_cache_counts_a_miss_then_a_hit(api_client, auth_client, gemini):
    gemini.reply_json(analysis_payload())
    cache = {"cache": "food_text"}
    before = scrape(api_client)

    for _ in range(2):
        response = auth_client.post(
            "/api/v1/ai/food/analyze-text", {"text": "two eggs"}, format="json"
        )
        assert response.status_code == 200
    after = scrape(api_client)

    assert moved(before, after, "ai_cache_requests_total", **cache, result="miss") == 1
    assert moved(before, after, "ai_cache_requests_total", **cache, result="hit") == 1
    assert moved(before, after, "ai_requests_total", endpoint="food.analyze_text") == 1


def test_recognition_jobs_are_counted_by_outcome(
    api_client, auth_client, gemini, django_capture_on_commit_callbacks
):
    gemini.reply_json(analysis_payload())
    gemini.reply_json(analysis_payload())
    before = scrape(api_client)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            "/api/v1/ai/food/recognize", {"image": upload(jpeg_bytes())}, format="multipart"
        )
    after = scrape(api_client)

    assert response.status_code == 202
    assert RecognitionJob.objects.get().status == "succeeded"
    assert moved(before, after, "recognition_jobs_total", outcome="succeeded") == 1
    assert moved(before, after, "ai_cache_requests_total", cache="food_photo", result="miss") == 1
    assert moved(before, after, "ai_requests_total", endpoint="food.recognize", outcome="ok") == 2
    assert (
        moved(
            before,
            after,
            "celery_tasks_total",
            task="ai_assistant.tasks.recognize_food",
            outcome="success",
        )
        == 1
    )


def test_a_failed_recognition_is_counted_with_its_reason(
    api_client, auth_client, gemini, django_capture_on_commit_callbacks
):
    for _ in range(6):
        gemini.error(400, "INVALID_ARGUMENT", "Bad image.")
    before = scrape(api_client)

    with django_capture_on_commit_callbacks(execute=True):
        auth_client.post(
            "/api/v1/ai/food/recognize", {"image": upload(jpeg_bytes())}, format="multipart"
        )
    after = scrape(api_client)

    job = RecognitionJob.objects.get()
    assert job.status == "failed"
    assert (
        moved(before, after, "recognition_jobs_total", outcome="failed", reason=job.error["code"])
        == 1
    )
