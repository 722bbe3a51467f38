"""POST /api/v1/ai/food/analyze-text, through the real SDK against the Gemini stand-in."""

import base64
import logging

import pytest

from ai_assistant.models import AIUsage
from ai_assistant.recognition.schemas import FoodAnalysis
from tests.ai_assistant.conftest import STANDIN_KEY
from tests.ai_assistant.factories import analysis_payload, food_item
from tests.ai_assistant.gemini_standin import error_info, usage
from tests.asserts import assert_error

URL = "/api/v1/ai/food/analyze-text"

pytestmark = pytest.mark.django_db


def analyze(client, text="2 boiled eggs and a slice of toast"):
    return client.post(URL, {"text": text}, format="json")


def test_analyze_text_returns_ai_response_from_gemini(auth_client, gemini):
    gemini.reply_json(analysis_payload())

    response = analyze(auth_client)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "confidence", "processing_time", "source"}
    assert body["source"] == "gemini"
    assert body["confidence"] == 0.9
    assert body["processing_time"] >= 0
    assert body["data"] == FoodAnalysis.model_validate(analysis_payload()).model_dump(mode="json")
    assert body["data"]["item_breakdown"]["totals"] == {
        "calories": 235.0,
        "protein": 15.7,
        "carbs": 16.1,
        "fat": 12.0,
    }


def test_analyze_text_asks_gemini_for_schema_json_with_plan_settings(auth_client, gemini):
    gemini.reply_json(analysis_payload())

    analyze(auth_client, "a bowl of porridge")

    [sent] = gemini.requests
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == STANDIN_KEY
    assert "a bowl of porridge" in sent.text
    config = sent.generation_config
    assert config["temperature"] == 0.2
    assert config["topK"] == 32
    assert config["topP"] == 0.7
    assert config["maxOutputTokens"] == 2048
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == FoodAnalysis.model_json_schema()


def test_analyze_text_uses_model_from_settings(auth_client, gemini, settings):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "MODELS": {"vision": "v-model", "text": "gemini-test-text", "fast": "f-model"},
    }
    gemini.reply_json(analysis_payload())

    assert analyze(auth_client).status_code == 200
    assert gemini.requests[0].model == "gemini-test-text"


def test_analyze_text_recomputes_totals_when_model_adds_up_wrong(auth_client, gemini):
    payload = analysis_payload([food_item("Apple", 180, 95, 0.5, 25, 0.3)])
    payload["item_breakdown"]["totals"] = {"calories": 900, "protein": 9, "carbs": 9, "fat": 9}
    gemini.reply_json(payload)

    body = analyze(auth_client).json()

    assert body["data"]["item_breakdown"]["totals"] == {
        "calories": 95.0,
        "protein": 0.5,
        "carbs": 25.0,
        "fat": 0.3,
    }


def test_analyze_text_answers_from_cache_when_same_text_asked_again(
    auth_client, other_client, gemini
):
    gemini.reply_json(analysis_payload())
    first = analyze(auth_client, "2 Boiled eggs and toast").json()

    again = analyze(auth_client, "  2 boiled EGGS   and toast ")
    from_other_user = analyze(other_client, "2 boiled eggs and toast")

    assert again.status_code == 200
    assert again.json()["source"] == "cache"
    assert again.json()["data"] == first["data"]
    assert again.json()["confidence"] == first["confidence"]
    assert from_other_user.json()["source"] == "cache"
    assert len(gemini.requests) == 1
    assert AIUsage.objects.count() == 1


def test_analyze_text_calls_gemini_when_text_differs(auth_client, gemini):
    gemini.reply_json(analysis_payload())
    gemini.reply_json(analysis_payload(food_name="Porridge"))

    analyze(auth_client, "eggs")
    second = analyze(auth_client, "porridge").json()

    assert second["source"] == "gemini"
    assert second["data"]["food_name"] == "Porridge"
    assert len(gemini.requests) == 2


def test_analyze_text_records_usage_when_gemini_answers(auth_client, user, gemini):
    gemini.reply_json(analysis_payload(), usage_metadata=usage(prompt=120, output=80, thoughts=7))

    analyze(auth_client)

    row = AIUsage.objects.get()
    assert row.user == user
    assert row.endpoint == "food.analyze_text"
    assert row.provider == "gemini"
    assert row.model == "gemini-2.5-flash"
    assert (row.prompt_tokens, row.output_tokens, row.thinking_tokens, row.total_tokens) == (
        120,
        80,
        7,
        207,
    )
    assert row.outcome == "ok"
    assert row.attempts == 1
    assert row.latency_ms >= 0


def test_analyze_text_unavailable_when_no_key_configured(auth_client, settings):
    settings.GEMINI_API_KEY = ""

    response = analyze(auth_client)

    assert_error(response, 503, "ai_unavailable")
    assert AIUsage.objects.count() == 0
    # The rest of the API does not depend on the AI service.
    assert auth_client.get("/api/v1/users/profile").status_code == 200


def test_analyze_text_requires_authentication(api_client, gemini):
    response = analyze(api_client)

    assert response.status_code == 401
    assert gemini.requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "text"), ({"text": "   "}, "text"), ({"text": "x" * 2001}, "text")],
)
def test_analyze_text_rejects_invalid_body(auth_client, gemini, body, field):
    response = auth_client.post(URL, body, format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"]["fields"]
    assert gemini.requests == []


# --- provider failures ------------------------------------------------------------------


def _script_invalid_key(gemini):
    gemini.error(400, "INVALID_ARGUMENT", "API key not valid.", [error_info("API_KEY_INVALID")])


def _script_unauthenticated(gemini):
    gemini.error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")


def _script_key_blocked(gemini):
    gemini.error(
        403,
        "PERMISSION_DENIED",
        "Requests to this API method are blocked.",
        [error_info("API_KEY_SERVICE_BLOCKED")],
    )


def _script_service_disabled(gemini):
    gemini.error(
        403,
        "PERMISSION_DENIED",
        "Generative Language API has not been used in project 42 before or it is disabled.",
        [error_info("SERVICE_DISABLED", consumer="projects/42")],
    )


def _script_server_errors(gemini):
    for _ in range(3):
        gemini.error(500, "INTERNAL", "An internal error has occurred.")


def _script_unavailable(gemini):
    for _ in range(3):
        gemini.error(503, "UNAVAILABLE", "The model is overloaded.")


def _script_dropped_connections(gemini):
    for _ in range(3):
        gemini.drop_connection()


def _script_deadline_exceeded(gemini):
    gemini.error(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.")


def _script_not_json(gemini):
    gemini.reply_text("Sure! Here is your analysis: eggs are healthy.")


def _script_truncated(gemini):
    gemini.reply_text('{"food_name": "Eggs", "descr', finish_reason="MAX_TOKENS")


def _script_off_schema(gemini):
    gemini.reply_json({"food_name": "Eggs", "calories": 155})


def _script_out_of_range(gemini):
    gemini.reply_json(analysis_payload([food_item(calories=-5)]))


def _script_empty(gemini):
    gemini.reply_text(None, finish_reason="OTHER")


def _script_html_body(gemini):
    gemini.reply_raw(200, b"<html><body>Proxy error</body></html>")


def _script_unknown_model(gemini):
    gemini.error(404, "NOT_FOUND", "models/gemini-1.5-flash is not found for API version v1beta.")


def _script_prompt_blocked(gemini):
    gemini.prompt_blocked("SAFETY")


def _script_answer_blocked(gemini):
    gemini.reply_text(None, finish_reason="SAFETY")


@pytest.mark.parametrize(
    ("script", "status", "code", "requests_made"),
    [
        (_script_invalid_key, 502, "invalid_key", 1),
        (_script_unauthenticated, 502, "invalid_key", 1),
        (_script_key_blocked, 502, "invalid_key", 1),
        (_script_service_disabled, 502, "api_disabled", 1),
        (_script_server_errors, 503, "network_error", 3),
        (_script_unavailable, 503, "network_error", 3),
        (_script_dropped_connections, 503, "network_error", 3),
        (_script_deadline_exceeded, 504, "timeout", 1),
        (_script_not_json, 502, "generation_error", 1),
        (_script_truncated, 502, "generation_error", 1),
        (_script_off_schema, 502, "generation_error", 1),
        (_script_out_of_range, 502, "generation_error", 1),
        (_script_empty, 502, "generation_error", 1),
        (_script_html_body, 502, "generation_error", 1),
        (_script_unknown_model, 502, "generation_error", 1),
        (_script_prompt_blocked, 422, "content_blocked", 1),
        (_script_answer_blocked, 422, "content_blocked", 1),
    ],
    ids=lambda value: value.__name__.removeprefix("_script_") if callable(value) else None,
)
def test_analyze_text_maps_provider_failure(
    auth_client, gemini, script, status, code, requests_made
):
    script(gemini)

    response = analyze(auth_client)

    assert_error(response, status, code)
    assert len(gemini.requests) == requests_made
    row = AIUsage.objects.get()
    assert (row.outcome, row.attempts) == (code, requests_made)


def test_analyze_text_invalid_key_when_gemini_rejects_configured_key(auth_client, gemini, settings):
    settings.GEMINI_API_KEY = "not-the-key-gemini-knows"

    response = analyze(auth_client)

    assert_error(response, 502, "invalid_key")
    assert gemini.requests[0].headers["x-goog-api-key"] == "not-the-key-gemini-knows"


def test_analyze_text_does_not_cache_failed_answer(auth_client, gemini):
    _script_off_schema(gemini)
    gemini.reply_json(analysis_payload())

    first = analyze(auth_client)
    second = analyze(auth_client)

    assert first.status_code == 502
    assert second.status_code == 200
    assert second.json()["source"] == "gemini"
    assert len(gemini.requests) == 2


def test_analyze_text_timeout_when_gemini_too_slow(auth_client, gemini, settings):
    settings.AI_SERVICE = {**settings.AI_SERVICE, "TIMEOUT_SECONDS": 0.3}
    gemini.hang(1.5)

    response = analyze(auth_client)

    assert_error(response, 504, "timeout")
    assert len(gemini.requests) == 1
    assert AIUsage.objects.get().outcome == "timeout"


def test_analyze_text_network_error_when_gemini_unreachable(auth_client, gemini, settings):
    gemini.stop()  # nothing listens on its port any more
    settings.GEMINI_BASE_URL = gemini.url

    response = analyze(auth_client)

    assert_error(response, 503, "network_error")
    assert AIUsage.objects.get().attempts == 3


def test_analyze_text_rate_limited_with_retry_after_when_gemini_quota_exhausted(
    auth_client, gemini
):
    gemini.error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
    )

    response = analyze(auth_client)

    error = assert_error(response, 429, "rate_limited")
    assert response["Retry-After"] == "37"
    assert error["details"] == {"reason": "provider_quota", "retry_after": 37}
    assert len(gemini.requests) == 1  # a used-up quota is not hammered with retries


def test_analyze_text_retry_after_from_header_when_no_retry_info(auth_client, gemini):
    gemini.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", headers={"Retry-After": "12"})

    response = analyze(auth_client)

    assert response.status_code == 429
    assert response["Retry-After"] == "12"


@pytest.mark.parametrize(
    ("failures", "attempts"),
    [(["INTERNAL", "INTERNAL"], 3), (["UNAVAILABLE"], 2), (["drop"], 2)],
)
def test_analyze_text_succeeds_after_transient_failures(auth_client, gemini, failures, attempts):
    for failure in failures:
        if failure == "drop":
            gemini.drop_connection()
        else:
            gemini.error(500 if failure == "INTERNAL" else 503, failure, "Try again.")
    gemini.reply_json(analysis_payload())

    response = analyze(auth_client)

    assert response.status_code == 200
    assert response.json()["source"] == "gemini"
    assert len(gemini.requests) == attempts
    row = AIUsage.objects.get()
    assert (row.outcome, row.attempts) == ("ok", attempts)


def test_analyze_text_gives_up_after_configured_attempts(auth_client, gemini, settings):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RETRY": {"max_attempts": 2, "backoff_seconds": 0.01, "max_backoff_seconds": 0.01},
    }
    gemini.error(500, "INTERNAL", "Boom.")
    gemini.error(500, "INTERNAL", "Boom.")

    response = analyze(auth_client)

    assert response.status_code == 503
    assert len(gemini.requests) == 2


# --- per-user limits ----------------------------------------------------------------------


def test_analyze_text_rate_limited_when_user_over_allowance(
    auth_client, other_client, gemini, settings
):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RATE_LIMITS": {**settings.AI_SERVICE["RATE_LIMITS"], "food_text": "2/hour"},
    }
    gemini.reply_json(analysis_payload())
    gemini.reply_json(analysis_payload())
    gemini.reply_json(analysis_payload())

    assert analyze(auth_client, "eggs").status_code == 200
    assert analyze(auth_client, "toast").status_code == 200
    over = analyze(auth_client, "porridge")

    error = assert_error(over, 429, "rate_limited")
    assert 0 < int(over["Retry-After"]) <= 3600
    assert error["details"]["reason"] == "user_limit"
    assert error["details"]["scope"] == "food_text"
    assert len(gemini.requests) == 2
    # The allowance is per user.
    assert analyze(other_client, "porridge").status_code == 200


# --- the key stays secret -------------------------------------------------------------------


def test_analyze_text_never_reveals_key_in_responses_or_logs(auth_client, gemini, caplog):
    caplog.set_level(logging.DEBUG)
    _script_invalid_key(gemini)
    _script_server_errors(gemini)
    _script_off_schema(gemini)
    gemini.reply_json(analysis_payload())

    responses = [analyze(auth_client, f"meal {n}") for n in range(4)]

    assert [r.status_code for r in responses] == [502, 503, 502, 200]
    assert all(r.headers["x-goog-api-key"] == STANDIN_KEY for r in gemini.requests)
    encoded = base64.b64encode(STANDIN_KEY.encode()).decode()
    for response in responses:
        assert STANDIN_KEY not in response.content.decode()
        assert STANDIN_KEY not in str(response.headers)
    logged = caplog.text
    assert logged  # the failures were logged...
    assert STANDIN_KEY not in logged  # ...without the key
    assert encoded not in logged
