"""Usage accounting: the one write `AIClient` makes, once per provider call.

Kept apart from `services.py` because the services use the client, and the client must
record every call whoever makes it.
"""

from dataclasses import dataclass

from asgiref.sync import sync_to_async

from ai_assistant.models import AIUsage
from ai_assistant.providers import Usage


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


def record_usage(record: UsageRecord) -> AIUsage:
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
