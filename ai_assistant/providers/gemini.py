"""Gemini through the `google-genai` SDK: the only place that knows Gemini's types and errors.

The SDK's own retries stay off (no `retry_options`): `AIClient` retries, so that attempts are
counted in the usage rows and every failure is mapped the same way.
"""

import json
import logging
import math
import re
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing, contextmanager
from functools import lru_cache
from typing import Any

import httpx
import httpx2
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ai_assistant import errors
from ai_assistant.providers.base import (
    AIProvider,
    Blob,
    Generation,
    GenerationRequest,
    Message,
    Usage,
)

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

# The SDK sends through httpx2 unless GOOGLE_GENAI_HTTP_CLIENT picks httpx: catch both.
_NO_ANSWER_IN_TIME = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx2.ReadTimeout,
    httpx2.WriteTimeout,
)
_TRANSPORT = (httpx.TransportError, httpx2.TransportError)
_BLOCKING_FINISH_REASONS = {
    "SAFETY",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "MODEL_ARMOR",
}
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")
# Gemini's quotas are counted per minute (and per day); without a hint, a minute.
_DEFAULT_RETRY_AFTER = 60


class GeminiProvider(AIProvider):
    name = "gemini"

    def __init__(self, *, api_key: str, base_url: str, timeout_seconds: float) -> None:
        http_options = types.HttpOptions(
            base_url=base_url or None,
            api_version="v1beta",
            timeout=math.ceil(timeout_seconds * 1000),
            # The async client keeps a connection pool per event loop, and many of our loops
            # are short-lived (async_to_sync in a Celery task): pooled connections would
            # outlive them unclosed. An async call pays one handshake instead.
            async_client_args={"limits": httpx2.Limits(max_keepalive_connections=0)},
        )
        self._client = genai.Client(api_key=api_key, vertexai=False, http_options=http_options)

    def generate(self, request: GenerationRequest) -> Generation:
        with _traced(request, "generate_content") as span, _translated_errors():
            response = self._client.models.generate_content(**_call_args(request))
            return _finished(span, _generation(response, request.model))

    async def agenerate(self, request: GenerationRequest) -> Generation:
        with _traced(request, "generate_content") as span, _translated_errors():
            response = await self._client.aio.models.generate_content(**_call_args(request))
            return _finished(span, _generation(response, request.model))

    async def astream(self, request: GenerationRequest) -> AsyncGenerator[Generation, None]:
        # Not the current span: a generator's context may not be restored across its yields.
        with (
            _traced(request, "stream_generate_content", current=False) as span,
            _translated_errors(),
        ):
            # The request goes out on the first iteration, so errors surface there too.
            stream = await self._client.aio.models.generate_content_stream(**_call_args(request))
            # Closing the SDK's stream closes the HTTP response now, not when collected.
            async with aclosing(stream):
                async for response in stream:
                    yield _finished(span, _generation(response, request.model))


@contextmanager
def _traced(request: GenerationRequest, operation: str, *, current: bool = True):
    """A client span per call, named and described as OpenTelemetry's GenAI conventions say
    (the SDK's HTTP client, httpx2, has no instrumentation of its own). No-op unless
    tracing is configured."""
    attributes = {
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.operation.name": operation,
        "gen_ai.request.model": request.model,
    }
    name = f"{operation} {request.model}"
    if current:
        with _tracer.start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            yield span
        return
    span = _tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
    try:
        yield span
    except BaseException as exc:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        span.end()


def _finished(span: Span, generation: Generation) -> Generation:
    span.set_attribute("gen_ai.response.model", generation.model)
    if generation.usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", generation.usage.prompt_tokens)
        span.set_attribute(
            "gen_ai.usage.output_tokens",
            generation.usage.output_tokens + generation.usage.thinking_tokens,
        )
    return generation


@lru_cache(maxsize=8)
def gemini_provider(*, api_key: str, base_url: str, timeout_seconds: float) -> GeminiProvider:
    """One SDK client (and connection pool) per configuration, shared by the process."""
    return GeminiProvider(api_key=api_key, base_url=base_url, timeout_seconds=timeout_seconds)


def _call_args(request: GenerationRequest) -> dict[str, Any]:
    settings = request.settings
    thinking = (
        types.ThinkingConfig(thinking_budget=settings.thinking_budget)
        if settings.thinking_budget is not None
        else None
    )
    config = types.GenerateContentConfig(
        system_instruction=request.system_instruction,
        temperature=settings.temperature,
        top_k=settings.top_k,
        top_p=settings.top_p,
        max_output_tokens=settings.max_output_tokens,
        thinking_config=thinking,
        response_mime_type="application/json" if request.response_schema else None,
        response_json_schema=request.response_schema,
        # We pass no tools; this only skips the SDK's function-calling loop (and its log line).
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    return {
        "model": request.model,
        "contents": [_content(message) for message in request.messages],
        "config": config,
    }


# Dicts, which the SDK validates into its types itself: handed `types.Content` instances
# instead, its union validation costs about five times as much, some 0.25 ms of CPU per
# message, and a chat sends up to AI_COACH["HISTORY_MESSAGES"] of them before each ask.
def _content(message: Message) -> types.ContentDict:
    return types.ContentDict(role=message.role, parts=[_part(part) for part in message.parts])


def _part(part: str | Blob) -> types.PartDict:
    if isinstance(part, Blob):
        return types.PartDict(inline_data=types.BlobDict(data=part.data, mime_type=part.mime_type))
    return types.PartDict(text=part)


def _generation(response: types.GenerateContentResponse, requested_model: str) -> Generation:
    candidate = response.candidates[0] if response.candidates else None
    finish_reason = _enum_value(candidate.finish_reason) if candidate else None
    blocked_reason = None
    if response.prompt_feedback and response.prompt_feedback.block_reason:
        blocked_reason = _enum_value(response.prompt_feedback.block_reason)
    elif finish_reason in _BLOCKING_FINISH_REASONS:
        blocked_reason = finish_reason
    parts = (candidate.content.parts if candidate and candidate.content else None) or []
    return Generation(
        # Thought summaries are the model's notes, not its answer.
        text="".join(part.text for part in parts if part.text and not part.thought),
        model=response.model_version or requested_model,
        usage=_usage(response.usage_metadata),
        finish_reason=finish_reason,
        blocked_reason=blocked_reason,
    )


def _usage(metadata: types.GenerateContentResponseUsageMetadata | None) -> Usage | None:
    if metadata is None:
        return None
    return Usage(
        prompt_tokens=metadata.prompt_token_count or 0,
        output_tokens=metadata.candidates_token_count or 0,
        thinking_tokens=metadata.thoughts_token_count or 0,
        total_tokens=metadata.total_token_count or 0,
    )


def _enum_value(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except genai_errors.APIError as exc:
        raise _from_api_error(exc) from exc
    except _NO_ANSWER_IN_TIME as exc:
        raise errors.Timeout() from exc
    except _TRANSPORT as exc:
        # Connection refused or reset, DNS, TLS, a connect/pool timeout: nothing was
        # processed, so the call is safe to retry.
        logger.warning("Gemini unreachable: %s", type(exc).__name__)
        raise errors.NetworkError() from exc
    except (
        genai_errors.UnknownApiResponseError,
        json.JSONDecodeError,
        pydantic.ValidationError,
    ) as exc:
        logger.warning("Gemini answered with a body that is not a GenerateContentResponse")
        raise errors.GenerationError() from exc


def _from_api_error(exc: genai_errors.APIError) -> errors.AIError:
    reasons = _error_info_reasons(exc.details)
    logger.warning(
        "Gemini error %s %s (%s): %s", exc.code, exc.status, ",".join(reasons), exc.message
    )
    if exc.code == 429:
        return errors.AIRateLimited(
            _retry_after(exc),
            message="The AI provider's quota is used up for now. Try again later.",
            details={"reason": "provider_quota"},
        )
    if "SERVICE_DISABLED" in reasons:
        return errors.ApiDisabled()
    if exc.code in (401, 403) or "API_KEY_INVALID" in reasons:
        return errors.InvalidKey()
    if exc.code == 504 or exc.status == "DEADLINE_EXCEEDED":
        # Google gave up at the deadline we sent (X-Server-Timeout): a retry would wait as long.
        return errors.Timeout()
    if exc.code >= 500:
        return errors.NetworkError()
    # Any other 4xx is a request Gemini will never accept (unknown model, bad argument).
    return errors.GenerationError(details={"provider_status": exc.status or str(exc.code)})


def _error_details(body: Any) -> list[dict[str, Any]]:
    error = body.get("error", body) if isinstance(body, dict) else {}
    details = error.get("details") if isinstance(error, dict) else None
    return [item for item in details or [] if isinstance(item, dict)]


def _error_info_reasons(body: Any) -> list[str]:
    return [
        str(item.get("reason"))
        for item in _error_details(body)
        if item.get("@type") == _ERROR_INFO and item.get("reason")
    ]


def _retry_after(exc: genai_errors.APIError) -> int:
    """Gemini says when its quota frees up in a RetryInfo detail; HTTP may say Retry-After."""
    for item in _error_details(exc.details):
        if item.get("@type") == _RETRY_INFO:
            match = _DURATION.match(str(item.get("retryDelay", "")))
            if match:
                return max(1, math.ceil(float(match[1])))
    header = exc.response.headers.get("Retry-After") if exc.response is not None else None
    if header and header.isdigit():
        return max(1, int(header))
    return _DEFAULT_RETRY_AFTER
