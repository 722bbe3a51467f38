"""Per-user allowances on the AI endpoints, counted atomically in the shared cache (Redis).

They fail closed: with Redis unreachable the count raises, and the request answers 503
`service_unavailable` rather than reach Gemini unmetered (the allowance protects the bill).
"""

from django.contrib.auth.base_user import AbstractBaseUser

from ai_assistant.config import AIServiceConfig
from ai_assistant.errors import AIRateLimited
from fitness.api import ratelimit


def enforce_rate_limit(*, user: AbstractBaseUser, scope: str, config: AIServiceConfig) -> None:
    """Counts one request of `user` to `scope` (e.g. "food_text"); 429 when over the limit."""
    limit, window = config.rate_limit(scope)
    state = ratelimit.hit(f"ai:{scope}:{user.pk}", limit=limit, window=window)
    if state.exceeded:
        raise AIRateLimited(
            state.retry_after,
            message="You have used your AI requests for now. Try again later.",
            details={"reason": "user_limit", "scope": scope},
        )
