"""The app-version gate: an app that says it is older than its platform's minimum gets 426
`app_update_required` on every API call, so a release with a bad bug can be stopped without
a server deploy. What it may still call: GET /config (where the app learns the minimum), the
token refresh (so the session survives the update) and the health probes. A request without
both headers (web tools, scripts, old clients that never sent them) is not gated."""

from django.http import HttpRequest

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


def _refusal(request: HttpRequest):
    platform = parse_platform(request.headers.get("X-Platform"))
    version = parse_version(request.headers.get("X-App-Version"))
    if platform is None or version is None:
        return None
    minimum = min_app_versions()[platform]
    if minimum is None or version >= minimum:
        return None
    return error_response(
        ErrorCode.APP_UPDATE_REQUIRED,
        "This version of the app is no longer supported. Update the app to continue.",
        {"platform": str(platform), "app_version": str(version), "min_version": str(minimum)},
    )
