"""Error reports to Sentry, when SENTRY_DSN is set.

Nothing personal leaves (the SDK's `data_collection`): no user identity or IP, no cookies,
only harmless request headers, no query strings (a WebSocket token may be one), request
bodies, prompts or answers (they carry passwords, meals, chat messages), and no local
variables of stack frames (they hold the same). Credentials named as the SDK's scrubber
names them, or as we name ours, are filtered out of what remains at any depth (extra data,
breadcrumbs). What is sent: the exception, its stack, the route, the release and the
environment.
"""

from typing import Any

import sentry_sdk
from sentry_sdk.scrubber import DEFAULT_DENYLIST

# Names of ours that carry credentials, beside the SDK's list (which has `token`,
# `password`, `authorization`...); matched case-insensitively on keys at any depth.
_DENYLIST = [
    *DEFAULT_DENYLIST,
    "access_token",
    "refresh_token",
    "id_token",
    "otp_token",
    "new_password",
    "x-goog-api-key",
    "x_goog_api_key",
    "gemini_api_key",
    "dsn",
]

_HEADERS = ["accept", "content-type", "content-length", "user-agent", "x-request-id"]


_DENIED = frozenset(name.lower() for name in _DENYLIST)
_FILTERED = "[Filtered]"


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _FILTERED if str(key).lower() in _DENIED else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def _scrubbed(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """The SDK's EventScrubber by hand: once `data_collection` is given the SDK ignores
    `event_scrubber`, and the scrubber's own markers cannot be serialised this late. Only
    what may carry our data is walked (extra data, contexts, breadcrumbs, the request)."""
    for section in ("extra", "contexts", "request", "breadcrumbs"):
        if section in event:
            event[section] = _scrub(event[section])
    return event


def init_sentry(*, dsn: str, environment: str, release: str, traces_sample_rate: float) -> bool:
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": _HEADERS}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "gen_ai": {"inputs": False, "outputs": False},
            "database_query_data": False,
            "stack_frame_variables": False,
        },
        before_send=_scrubbed,
        before_send_transaction=_scrubbed,
    )
    return True
