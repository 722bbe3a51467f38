"""Limits on the anonymous endpoints (registration, login, password reset), in three kinds.

A carrier's NAT puts thousands of phones behind one address, so the per-IP limit is
generous: it only stops one client hammering many accounts. The tight limits are per
device (the app's `X-Device-ID`, a random id per installation) and per e-mail address.
A device id is the client's word, so it only keeps one device from crowding others out
behind a shared address; the per-e-mail limits (and the login lockout, the reset code's
tries) are what stop guessing.
"""

import hashlib

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from fitness.api import ratelimit
from fitness.api.errors import RateLimited

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEVICE_HEADER = "X-Device-ID"


def parse_rate(rate: str) -> tuple[int, int]:
    """'10/hour' → (10, 3600)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period[0]]


def _rate(name: str) -> tuple[int, int] | None:
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(name)
    return parse_rate(rate) if rate else None


def _digest(value: str) -> str:
    # Keys hold no address or client-chosen string in the clear, and stay short.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class ScopedIPThrottle(BaseThrottle):
    """Per-client-IP limit for anonymous endpoints, named by the view's `throttle_scope`."""

    kind = "ip"
    suffix = ""

    def ident(self, request) -> str | None:
        return self.get_ident(request)

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None)
        rate = _rate(f"{scope}{self.suffix}") if scope else None
        ident = self.ident(request) if rate else None
        if rate is None or not ident:
            return True
        limit, window = rate
        state = ratelimit.hit(f"{self.kind}:{scope}:{ident}", limit=limit, window=window)
        self._wait = state.retry_after
        return not state.exceeded

    def wait(self) -> float:
        return self._wait


class ScopedDeviceThrottle(ScopedIPThrottle):
    """Per-device limit (rate `<scope>_device`), for requests that name their device."""

    kind = "device"
    suffix = "_device"

    def ident(self, request) -> str | None:
        device = request.headers.get(DEVICE_HEADER, "").strip()
        return _digest(device[:256]) if device else None


def check_email_rate(scope: str, email: str) -> None:
    """Counts one request for `email` (normalised) against the rate `<scope>_email`;
    429 once over it, the same for addresses with and without an account."""
    _check(f"{scope}_email", f"email:{scope}:{_digest(email)}", "for this e-mail address")


def check_user_rate(scope: str, user_id: object) -> None:
    """Counts one request of a signed-in user against the rate `<scope>`; 429 once over."""
    _check(scope, f"user:{scope}:{user_id}", "")


def _check(rate_name: str, key: str, whose: str) -> None:
    rate = _rate(rate_name)
    if rate is None:
        return
    limit, window = rate
    state = ratelimit.hit(key, limit=limit, window=window)
    if state.exceeded:
        raise RateLimited(
            state.retry_after, " ".join(["Too many requests", whose]).strip() + ". Try again later."
        )
