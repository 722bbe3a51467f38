"""`AIClient`: the one way the rest of the backend talks to an AI model.

    client = get_ai_client()          # 503 ai_unavailable when no key is configured
    result = client.generate_json([text, Blob(jpeg, "image/jpeg")], FoodAnalysis,
                                  user=user, endpoint="food.recognize", model_kind="vision")
    result.data                       # a validated FoodAnalysis, never unchecked output

`agenerate_json` is the same for asyncio (e.g. two analyses under `asyncio.gather`), and
`astream_text` streams a chat reply. Around the provider's single attempt the client adds,
once for all callers: retries with capped exponential backoff for transient failures,
JSON validation against a pydantic schema, and one `AIUsage` row per call.
"""

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ai_assistant.config import AIServiceConfig, ModelKind
from ai_assistant.errors import AIError, AIUnavailable, ContentBlocked, GenerationError
from ai_assistant.models import AIUsage
from ai_assistant.providers import (
    AIProvider,
    Generation,
    GenerationRequest,
    Message,
    Part,
    Usage,
)
from ai_assistant.providers.gemini import gemini_provider
from ai_assistant.usage import UsageRecord, arecord_usage, record_usage

logger = logging.getLogger(__name__)

SchemaT = TypeVar("SchemaT", bound=BaseModel)


@dataclass(frozen=True)
class JsonResult(Generic[SchemaT]):
    data: SchemaT
    model: str
    usage: Usage
    attempts: int
    latency: float  # seconds, retries included


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class StreamEnd:
    model: str
    usage: Usage
    attempts: int
    latency: float
    finish_reason: str | None = None  # e.g. "MAX_TOKENS" when the reply was cut short


StreamEvent = TextDelta | StreamEnd


class _Call:
    """What one logical call (all its attempts) spent, for its usage row."""

    def __init__(
        self,
        provider: AIProvider,
        request: GenerationRequest,
        user: AbstractBaseUser | None,
        endpoint: str,
    ) -> None:
        self.provider = provider.name
        self.user_id = getattr(user, "pk", None)
        self.endpoint = endpoint
        self.model = request.model
        self.usage = Usage()
        self.attempts = 0
        self.started = time.monotonic()

    def absorb(self, generation: Generation) -> None:
        self.model = generation.model or self.model
        if generation.usage is not None:
            self.usage = generation.usage

    @property
    def latency(self) -> float:
        return time.monotonic() - self.started

    def record(self, outcome: str) -> UsageRecord:
        return UsageRecord(
            user_id=self.user_id,
            endpoint=self.endpoint,
            provider=self.provider,
            model=self.model,
            usage=self.usage,
            latency_ms=round(self.latency * 1000),
            attempts=max(self.attempts, 1),
            outcome=outcome,
        )


class AIClient:
    def __init__(self, *, provider: AIProvider, config: AIServiceConfig) -> None:
        self.provider = provider
        self.config = config

    def generate_json(
        self,
        parts: Sequence[Part],
        schema: type[SchemaT],
        *,
        user: AbstractBaseUser | None,
        endpoint: str,
        model_kind: ModelKind = "text",
        system_instruction: str | None = None,
    ) -> JsonResult[SchemaT]:
        request = self._request(parts, schema, model_kind, system_instruction)
        call = _Call(self.provider, request, user, endpoint)
        try:
            for attempt in Retrying(**self._retry_policy(endpoint)):
                with attempt:
                    call.attempts = attempt.retry_state.attempt_number
                    generation = self.provider.generate(request)
            call.absorb(generation)
            data = _validated(generation, schema)
        except AIError as exc:
            record_usage(call.record(exc.code))
            raise
        record_usage(call.record(AIUsage.Outcome.OK))
        return JsonResult(data, call.model, call.usage, call.attempts, call.latency)

    async def agenerate_json(
        self,
        parts: Sequence[Part],
        schema: type[SchemaT],
        *,
        user: AbstractBaseUser | None,
        endpoint: str,
        model_kind: ModelKind = "text",
        system_instruction: str | None = None,
    ) -> JsonResult[SchemaT]:
        request = self._request(parts, schema, model_kind, system_instruction)
        call = _Call(self.provider, request, user, endpoint)
        try:
            async for attempt in AsyncRetrying(**self._retry_policy(endpoint)):
                with attempt:
                    call.attempts = attempt.retry_state.attempt_number
                    generation = await self.provider.agenerate(request)
            call.absorb(generation)
            data = _validated(generation, schema)
        except AIError as exc:
            await arecord_usage(call.record(exc.code))
            raise
        await arecord_usage(call.record(AIUsage.Outcome.OK))
        return JsonResult(data, call.model, call.usage, call.attempts, call.latency)

    async def astream_text(
        self,
        messages: Sequence[Message],
        *,
        user: AbstractBaseUser | None,
        endpoint: str,
        model_kind: ModelKind = "text",
        system_instruction: str | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """`TextDelta`s in order, then one `StreamEnd`; AIError on failure.

        Retries happen only until the first chunk arrives: once text has gone out to the
        caller, a retry would repeat it.
        """
        request = self._build(tuple(messages), None, model_kind, system_instruction)
        call = _Call(self.provider, request, user, endpoint)
        outcome = AIUsage.Outcome.CANCELLED  # unless it ends otherwise
        stream = None
        finish_reason = None
        try:
            stream, chunk = await self._open_stream(request, call, endpoint)
            produced = False
            while chunk is not None:
                call.absorb(chunk)
                finish_reason = chunk.finish_reason or finish_reason
                if chunk.blocked_reason:
                    raise ContentBlocked(details={"reason": chunk.blocked_reason})
                if chunk.text:
                    produced = True
                    yield TextDelta(chunk.text)
                chunk = await anext(stream, None)
            if not produced:
                raise GenerationError(details={"reason": "empty"})
            outcome = AIUsage.Outcome.OK
        except AIError as exc:
            outcome = exc.code
            raise
        finally:
            if stream is not None:
                await stream.aclose()  # a caller that stops early frees the connection now
            await arecord_usage(call.record(outcome))
        yield StreamEnd(call.model, call.usage, call.attempts, call.latency, finish_reason)

    async def _open_stream(
        self, request: GenerationRequest, call: _Call, endpoint: str
    ) -> tuple[AsyncGenerator[Generation, None], Generation | None]:
        async for attempt in AsyncRetrying(**self._retry_policy(endpoint)):
            with attempt:
                call.attempts = attempt.retry_state.attempt_number
                stream = self.provider.astream(request)
                first = await anext(stream, None)
        return stream, first

    def _request(
        self,
        parts: Sequence[Part],
        schema: type[BaseModel],
        model_kind: ModelKind,
        system_instruction: str | None,
    ) -> GenerationRequest:
        messages = (Message(role="user", parts=tuple(parts)),)
        return self._build(messages, _json_schema(schema), model_kind, system_instruction)

    def _build(
        self,
        messages: tuple[Message, ...],
        response_schema: dict[str, Any] | None,
        model_kind: ModelKind,
        system_instruction: str | None,
    ) -> GenerationRequest:
        return GenerationRequest(
            model=self.config.model_for(model_kind),
            messages=messages,
            settings=self.config.generation,
            system_instruction=system_instruction,
            response_schema=response_schema,
        )

    def _retry_policy(self, endpoint: str) -> dict[str, Any]:
        policy = self.config.retry

        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            logger.info(
                "AI call for %s failed (%s), attempt %d of %d; retrying in %.2fs",
                endpoint,
                getattr(error, "code", type(error).__name__),
                state.attempt_number,
                policy.max_attempts,
                state.upcoming_sleep,
            )

        return {
            "stop": stop_after_attempt(policy.max_attempts),
            "wait": wait_exponential_jitter(
                initial=policy.backoff_seconds,
                max=policy.max_backoff_seconds,
                jitter=policy.backoff_seconds,
            ),
            "retry": retry_if_exception(lambda exc: isinstance(exc, AIError) and exc.retryable),
            "before_sleep": log_retry,
            "reraise": True,
        }


def get_ai_client() -> AIClient:
    config = AIServiceConfig.from_settings()
    if not config.available:
        raise AIUnavailable()
    provider = gemini_provider(
        api_key=config.api_key,
        base_url=config.base_url,
        timeout_seconds=config.timeout_seconds,
    )
    return AIClient(provider=provider, config=config)


@cache
def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


def _validated(generation: Generation, schema: type[SchemaT]) -> SchemaT:
    """The answer as `schema`, or GenerationError: unchecked output never goes further."""
    if generation.blocked_reason:
        raise ContentBlocked(details={"reason": generation.blocked_reason})
    if not generation.text.strip():
        raise GenerationError(details={"reason": "empty"})
    try:
        payload = json.loads(generation.text)
    except ValueError:
        logger.warning("AI answer is not JSON (finish reason %s)", generation.finish_reason)
        raise GenerationError(details={"reason": "not_json"}) from None
    try:
        return schema.model_validate(payload)
    except ValidationError as exc:
        problems = ["/".join(map(str, error["loc"])) or "(root)" for error in exc.errors()]
        logger.warning("AI answer does not follow %s at %s", schema.__name__, problems)
        raise GenerationError(details={"reason": "off_schema"}) from None
