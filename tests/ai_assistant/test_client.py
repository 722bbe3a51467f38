"""AIClient as the next features use it: images, asyncio, streaming; real SDK, stand-in Gemini."""

import asyncio
import base64

import pytest
from asgiref.sync import async_to_sync

from ai_assistant.client import StreamEnd, TextDelta, get_ai_client
from ai_assistant.config import AIServiceConfig
from ai_assistant.errors import (
    AIError,
    AIRateLimited,
    AIUnavailable,
    ContentBlocked,
    NetworkError,
)
from ai_assistant.models import AIUsage
from ai_assistant.providers import Blob, Message
from ai_assistant.recognition.schemas import FoodAnalysis
from tests.ai_assistant.conftest import STANDIN_KEY
from tests.ai_assistant.factories import analysis_payload
from tests.ai_assistant.gemini_standin import google_error, usage

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0 not really a photo \xff\xd9"


def stream(messages, **kwargs):
    """Runs `astream_text` on an event loop; returns the events and the error it ended with."""

    async def run():
        events, error = [], None
        try:
            async for event in get_ai_client().astream_text(messages, **kwargs):
                events.append(event)
        except AIError as exc:
            error = exc
        return events, error

    return async_to_sync(run)()


def hello():
    return [Message(role="user", parts=("Hello coach",))]


def test_get_ai_client_unavailable_when_no_key():
    with pytest.raises(AIUnavailable) as raised:
        get_ai_client()

    assert (raised.value.status_code, raised.value.code) == (503, "ai_unavailable")


def test_config_repr_hides_key(gemini):
    config = AIServiceConfig.from_settings()

    assert config.api_key == STANDIN_KEY
    assert STANDIN_KEY not in repr(config)


def test_generate_json_sends_text_and_image_to_vision_model(gemini, user, settings):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "MODELS": {"vision": "gemini-vision-test", "text": "t", "fast": "f"},
    }
    gemini.reply_json(analysis_payload(), usage_metadata=usage(prompt=300, output=90))

    result = get_ai_client().generate_json(
        ["What is on this plate?", Blob(data=JPEG, mime_type="image/jpeg")],
        FoodAnalysis,
        user=user,
        endpoint="food.recognize",
        model_kind="vision",
        system_instruction="You are a nutritionist.",
    )

    assert isinstance(result.data, FoodAnalysis)
    assert result.data.food_name == "Eggs on toast"
    assert (result.model, result.attempts, result.usage.total_tokens) == (
        "gemini-vision-test",
        1,
        390,
    )
    [sent] = gemini.requests
    assert sent.model == "gemini-vision-test"
    text_part, image_part = sent.body["contents"][0]["parts"]
    assert text_part == {"text": "What is on this plate?"}
    inline = image_part["inlineData"]
    assert base64.urlsafe_b64decode(inline["data"]) == JPEG
    assert inline.get("mimeType", inline.get("mime_type")) == "image/jpeg"
    assert sent.body["systemInstruction"]["parts"] == [{"text": "You are a nutritionist."}]
    row = AIUsage.objects.get()
    assert (row.endpoint, row.model, row.total_tokens, row.user) == (
        "food.recognize",
        "gemini-vision-test",
        390,
        user,
    )


def test_agenerate_json_runs_analyses_concurrently_under_gather(gemini, user):
    gemini.reply_json(analysis_payload(confidence=0.8), delay=0.3)
    gemini.reply_json(analysis_payload(confidence=0.6), delay=0.3)
    client = get_ai_client()

    async def twice():
        return await asyncio.gather(
            *(
                client.agenerate_json(
                    [Blob(data=JPEG, mime_type="image/jpeg")],
                    FoodAnalysis,
                    user=user,
                    endpoint="food.recognize",
                    model_kind="vision",
                )
                for _ in range(2)
            )
        )

    results = async_to_sync(twice)()

    assert sorted(result.data.confidence for result in results) == [0.6, 0.8]
    assert len(gemini.requests) == 2
    assert gemini.max_in_flight == 2
    assert list(AIUsage.objects.values_list("outcome", flat=True)) == ["ok", "ok"]


def test_agenerate_json_raises_network_error_after_retries(gemini, user):
    for _ in range(3):
        gemini.error(502, "UNAVAILABLE", "Bad gateway.")

    with pytest.raises(NetworkError):
        async_to_sync(get_ai_client().agenerate_json)(
            ["x"], FoodAnalysis, user=user, endpoint="food.recognize"
        )

    assert len(gemini.requests) == 3
    row = AIUsage.objects.get()
    assert (row.outcome, row.attempts) == ("network_error", 3)


def test_astream_text_yields_chunks_in_order_then_usage(gemini, user):
    gemini.stream(["Hel", "lo, ", "ready to ", "train?"], usage_metadata=usage(20, 8))

    events, error = stream(hello(), user=user, endpoint="chat.message")

    assert error is None
    assert events[:-1] == [
        TextDelta("Hel"),
        TextDelta("lo, "),
        TextDelta("ready to "),
        TextDelta("train?"),
    ]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert (end.usage.prompt_tokens, end.usage.output_tokens, end.attempts) == (20, 8, 1)
    [sent] = gemini.requests
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert sent.query == {"alt": ["sse"]}
    assert "responseMimeType" not in sent.generation_config
    row = AIUsage.objects.get()
    assert (row.endpoint, row.outcome, row.total_tokens) == ("chat.message", "ok", 28)


def test_astream_text_sends_conversation_in_order(gemini, user):
    gemini.stream(["Sure."])
    history = [
        Message(role="user", parts=("I ran 5 km.",)),
        Message(role="model", parts=("Great job!",)),
        Message(role="user", parts=("What should I eat?",)),
    ]

    stream(history, user=user, endpoint="chat.message", system_instruction="Be brief.")

    body = gemini.requests[0].body
    assert [(c["role"], c["parts"][0]["text"]) for c in body["contents"]] == [
        ("user", "I ran 5 km."),
        ("model", "Great job!"),
        ("user", "What should I eat?"),
    ]
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]


def test_astream_text_retries_until_first_chunk(gemini, user):
    gemini.error(503, "UNAVAILABLE", "Overloaded.")
    gemini.stream(["Back ", "again."])

    events, error = stream(hello(), user=user, endpoint="chat.message")

    assert error is None
    assert [event.text for event in events[:-1]] == ["Back ", "again."]
    assert events[-1].attempts == 2
    assert len(gemini.requests) == 2
    assert AIUsage.objects.get().attempts == 2


def test_astream_text_not_retried_when_failing_after_first_chunk(gemini, user):
    gemini.stream(["Hel"], then_error=google_error(500, "INTERNAL", "Stream broke."))

    events, error = stream(hello(), user=user, endpoint="chat.message")

    assert events == [TextDelta("Hel")]
    assert isinstance(error, NetworkError)
    assert len(gemini.requests) == 1
    row = AIUsage.objects.get()
    assert (row.outcome, row.attempts) == ("network_error", 1)


def test_astream_text_stops_with_content_blocked_when_answer_blocked(gemini, user):
    gemini.stream(["Here is how ", ""], finish_reason="SAFETY")

    events, error = stream(hello(), user=user, endpoint="chat.message")

    assert events == [TextDelta("Here is how ")]
    assert isinstance(error, ContentBlocked)
    assert error.status_code == 422
    assert AIUsage.objects.get().outcome == "content_blocked"


def test_astream_text_raises_rate_limited_when_quota_exhausted(gemini, user):
    gemini.error(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded.",
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}],
    )

    events, error = stream(hello(), user=user, endpoint="chat.message")

    assert events == []
    assert isinstance(error, AIRateLimited)
    assert error.headers["Retry-After"] == "3"
    assert len(gemini.requests) == 1
    assert AIUsage.objects.get().outcome == "rate_limited"


def test_astream_text_records_cancelled_when_caller_stops_early(gemini, user):
    gemini.stream(["One. ", "Two. ", "Three."])

    async def first_chunk_only():
        replies = get_ai_client().astream_text(hello(), user=user, endpoint="chat.message")
        first = await anext(replies)
        await replies.aclose()
        return first

    assert async_to_sync(first_chunk_only)() == TextDelta("One. ")
    assert AIUsage.objects.get().outcome == "cancelled"
