"""The small interface every AI provider implements, in provider-neutral types.

A provider makes one attempt per call and translates its own failures into
`ai_assistant.errors` (marking the transient ones `retryable`). Retries, output validation,
usage accounting and rate limits live in `ai_assistant.client.AIClient`, once for all.
"""

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ai_assistant.config import GenerationSettings


@dataclass(frozen=True)
class Blob:
    """Inline binary input, e.g. a photo: `Blob(data=jpeg_bytes, mime_type="image/jpeg")`."""

    data: bytes
    mime_type: str

    def __repr__(self) -> str:
        return f"Blob({self.mime_type}, {len(self.data)} bytes)"


Part = str | Blob


@dataclass(frozen=True)
class Message:
    role: Literal["user", "model"]
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    messages: tuple[Message, ...]
    settings: GenerationSettings
    system_instruction: str | None = None
    # A JSON Schema: when set the provider asks for JSON that follows it.
    response_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class Generation:
    """One answer, or one chunk of a streamed answer (`text` is then the new text only)."""

    text: str
    model: str
    usage: Usage | None = None
    finish_reason: str | None = None
    # Why the provider refused to answer (its safety filters), when it did.
    blocked_reason: str | None = None


class AIProvider(ABC):
    name: str

    @abstractmethod
    def generate(self, request: GenerationRequest) -> Generation: ...

    @abstractmethod
    async def agenerate(self, request: GenerationRequest) -> Generation: ...

    @abstractmethod
    def astream(self, request: GenerationRequest) -> AsyncGenerator[Generation, None]:
        """Chunks in order; the last one carries the usage and the finish reason."""
