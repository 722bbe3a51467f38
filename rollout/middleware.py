"""The app-version gate: an app that says it is older than its platform's minimum gets 426
`app_update_required` on every API call (and its sockets close with 4426), so a release
with a bad bug can be stopped without a server deploy. What it may still call: GET /config
(where the app learns the minimum), the token refresh (so the session survives the update)
and the health probes. A request without both headers (web tools, scripts, old clients that
never sent them) is not gated."""

from channels.db import database_sync_to_async
from django.http import HttpRequest
from packaging.version import Version

from fitness.api.errors import error_response
from fitness.error_codes import ErrorCode
from rollout.selectors import min_app_versions
from rollout.versions import GATE_EXEMPT_PATHS, parse_platform, parse_version


class AppVersionGateMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path.startswith("/api/") and request.path not in GATE_EXEMPT_PATHS:
            refused = _refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)


# 4000 + the HTTP status, as every close code of ours (fitness.ws).
CLOSE_APP_UPDATE_REQUIRED = 4426


def _below_minimum(platform_header: str | None, version_header: str | None) -> tuple | None:
    """(platform, version, minimum) when the app is below its platform's minimum."""
    platform = parse_platform(platform_header)
    version = parse_version(version_header)
    if platform is None or version is None:
        return None
    minimum: Version | None = min_app_versions()[platform]
    if minimum is None or version >= minimum:
        return None
    return platform, version, minimum


class AppVersionGateWebSocketMiddleware:
    """The same gate for the sockets: accepted, then closed with 4426, so the app sees a
    code it can act on (as for 4401) rather than a failed handshake."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        platform, version = headers.get("x-platform"), headers.get("x-app-version")
        # Most sockets say nothing of their app: no thread hop for them.
        refused = (
            await database_sync_to_async(_below_minimum)(platform, version)
            if platform and version
            else None
        )
        if refused is None:
            return await self.app(scope, receive, send)
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send(
                {
                    "type": "websocket.close",
                    "code": CLOSE_APP_UPDATE_REQUIRED,
                    "reason": "Update the app.",
                }
            )
        return None


def _refusal(request: HttpRequest):
    refused = _below_minimum(
        request.headers.get("X-Platform"), request.headers.get("X-App-Version")
    )
    if refused is None:
        return None
    platform, version, minimum = refused
    return error_response(
        ErrorCode.APP_UPDATE_REQUIRED,
        "This version of the app is no longer supported. Update the app to continue.",
        {"platform": str(platform), "app_version": str(version), "min_version": str(minimum)},
    )
