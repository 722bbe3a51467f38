"""The plan's `AIServiceConfig`, read from settings (`AI_SERVICE`, `GEMINI_*`) at each use.

Read at each use rather than at import, so `override_settings` and the environment of a
freshly started process are both honoured without a restart of anything cached.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings

from fitness.api.throttling import parse_rate

ModelKind = Literal["vision", "text", "fast"]


@dataclass(frozen=True)
class GenerationSettings:
    temperature: float
    top_k: int
    top_p: float
    max_output_tokens: int
    thinking_budget: int | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float


@dataclass(frozen=True)
class AIServiceConfig:
    api_key: str = field(repr=False)
    base_url: str
    models: Mapping[str, str]
    generation: GenerationSettings
    retry: RetryPolicy
    timeout_seconds: float
    cache_ttl_seconds: int
    rate_limits: Mapping[str, str]

    @classmethod
    def from_settings(cls) -> "AIServiceConfig":
        ai = settings.AI_SERVICE
        return cls(
            api_key=settings.GEMINI_API_KEY.strip(),
            base_url=settings.GEMINI_BASE_URL,
            models=dict(ai["MODELS"]),
            generation=GenerationSettings(**ai["GENERATION"]),
            retry=RetryPolicy(**ai["RETRY"]),
            timeout_seconds=float(ai["TIMEOUT_SECONDS"]),
            cache_ttl_seconds=int(ai["CACHE_TTL_SECONDS"]),
            rate_limits=dict(ai["RATE_LIMITS"]),
        )

    @property
    def available(self) -> bool:
        return bool(self.api_key)

    def model_for(self, kind: ModelKind) -> str:
        return self.models[kind]

    def rate_limit(self, scope: str) -> tuple[int, int]:
        """(requests, window seconds) allowed per user for one AI endpoint."""
        return parse_rate(self.rate_limits[scope])
