from django.conf import settings
from rest_framework.throttling import BaseThrottle

from fitness.api import ratelimit

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'10/hour' → (10, 3600)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period[0]]


class ScopedIPThrottle(BaseThrottle):
    """Per-client-IP limit for anonymous endpoints, named by the view's `throttle_scope`."""

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None)
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(scope) if scope else None
        if not rate:
            return True
        limit, window = parse_rate(rate)
        state = ratelimit.hit(f"ip:{scope}:{self.get_ident(request)}", limit=limit, window=window)
        self._wait = state.retry_after
        return not state.exceeded

    def wait(self) -> float:
        return self._wait
