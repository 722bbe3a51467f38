"""Usage accounting: the one write `AIClient` makes, once per provider call.

Kept apart from `services.py` because the services use the client, and the client must
record every call whoever makes it.
"""

from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings

from ai_assistant.models import AIUsage
from ai_assistant.providers import Usage
from fitness.observability import metrics


@dataclass(frozen=True)
class UsageRecord:
    user_id: object | None
    endpoint: str
    provider: str
    model: str
    usage: Usage
    latency_ms: int
    attempts: int
    outcome: str


def billed_output_tokens(usage: Usage) -> int:
    # Gemini bills thinking tokens at the output price.
    return usage.output_tokens + usage.thinking_tokens


def estimated_cost_usd(*, input_tokens: int, output_tokens: int) -> float:
    """What Gemini charges for these tokens at the AI_PRICE_* settings (USD per million)."""
    return (
        input_tokens * settings.AI_PRICE_INPUT_PER_MILLION
        + output_tokens * settings.AI_PRICE_OUTPUT_PER_MILLION
    ) / 1_000_000


def _count(record: UsageRecord) -> None:
    labels = {"endpoint": record.endpoint, "model": record.model[:100]}
    tokens_out = billed_output_tokens(record.usage)
    metrics.AI_REQUESTS.labels(**labels, outcome=record.outcome).inc()
    metrics.AI_TOKENS.labels(**labels, direction="in").inc(record.usage.prompt_tokens)
    metrics.AI_TOKENS.labels(**labels, direction="out").inc(tokens_out)
    metrics.AI_DURATION.labels(**labels).observe(record.latency_ms / 1000)
    metrics.AI_COST.labels(**labels).inc(
        estimated_cost_usd(input_tokens=record.usage.prompt_tokens, output_tokens=tokens_out)
    )


def record_usage(record: UsageRecord) -> AIUsage:
    _count(record)
    return AIUsage.objects.create(
        user_id=record.user_id,
        endpoint=record.endpoint,
        provider=record.provider,
        model=record.model[:100],
        prompt_tokens=record.usage.prompt_tokens,
        output_tokens=record.usage.output_tokens,
        thinking_tokens=record.usage.thinking_tokens,
        total_tokens=record.usage.total_tokens,
        latency_ms=record.latency_ms,
        attempts=record.attempts,
        outcome=record.outcome,
    )


# For async callers (the streaming chat, asyncio.gather'ed analyses): the ORM is sync-only.
# Not channels' database_sync_to_async: it closes the calling thread's connection first, which
# fails for a caller inside a transaction (tests included); consumers already clean up
# connections around their own database work.
arecord_usage = sync_to_async(record_usage)
