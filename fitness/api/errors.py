"""The one error envelope of the API: `{"error": {"code", "message", "details"}}`.

Every failure, whether raised by DRF, SimpleJWT, Django or our own services, leaves through
`exception_handler` (or the Django-level handlers below for requests that never reach a
view), so clients parse one shape for every status.
"""

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.defaults import page_not_found, server_error
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from fitness.error_codes import ErrorCode

logger = logging.getLogger("fitness.api")


class ApiError(Exception):
    """A failure a client can act on, raised by services and views alike.

    Its code comes from the registry (`fitness.error_codes`), and so does its status: a
    code answers with one status wherever it is raised.
    """

    code: ErrorCode = ErrorCode.BAD_REQUEST
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code is not None and not isinstance(code, ErrorCode):
            raise TypeError(f"Error codes come from fitness.error_codes.ErrorCode, not {code!r}")
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def status_code(self) -> int:
        return self.code.status


class NotFound(ApiError):
    code = ErrorCode.NOT_FOUND
    message = "Not found."


class Conflict(ApiError):
    code = ErrorCode.CONFLICT
    message = "The request conflicts with the current state."


class InternalError(ApiError):
    """For failures recorded where no exception can travel, such as a job's outcome."""

    code = ErrorCode.INTERNAL_ERROR
    message = "Something went wrong on our side."


class IdConflict(Conflict):
    """A client-chosen id (offline-first create) that another object already holds."""

    code = ErrorCode.ID_CONFLICT
    message = "This id is already in use; create the object with another id."


class PreconditionFailed(ApiError):
    code = ErrorCode.PRECONDITION_FAILED
    message = "The object changed since you read it; fetch it again and retry."


class RateLimited(ApiError):
    code = ErrorCode.RATE_LIMITED
    message = "Too many requests. Try again later."

    def __init__(self, retry_after: int, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {})["Retry-After"] = str(retry_after)
        kwargs.setdefault("details", {})["retry_after"] = retry_after
        super().__init__(message, **kwargs)


class ServiceUnavailable(ApiError):
    """A backing service (Redis: cache, rate limits, revocation record) cannot be reached,
    or the server is out of capacity for this kind of work right now."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    message = "A service this request needs is unavailable. Try again shortly."

    def __init__(self, retry_after: int | None = None, **kwargs: Any) -> None:
        retry_after = retry_after or settings.OUTAGE_RETRY_AFTER_SECONDS
        kwargs.setdefault("headers", {})["Retry-After"] = str(retry_after)
        kwargs.setdefault("details", {})["retry_after"] = retry_after
        super().__init__(**kwargs)


# What redis-py (and so django-redis and channels-redis) raises when Redis is down, refuses
# connections, is still loading its data or does not answer within the socket timeout.
BACKEND_OUTAGES: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)


def log_outage(exc: Exception, where: str) -> None:
    """One line, no traceback: an outage is an operational state, not a bug."""
    logger.warning("Backing service unavailable in %s: %s: %s", where, type(exc).__name__, exc)


def error_body(code: ErrorCode, message: str, details: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": str(code), "message": message, "details": details or {}}}


def error_response(
    code: ErrorCode,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    response = JsonResponse(error_body(code, message, details), status=code.status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten_validation(detail: Any) -> Any:
    """Turns DRF's ErrorDetail trees into plain strings, keeping their nesting."""
    if isinstance(detail, dict):
        return {str(key): _flatten_validation(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten_validation(item) for item in detail]
    return str(detail)


_DRF_CODES: dict[type, tuple[ErrorCode, str]] = {
    drf.ParseError: (ErrorCode.MALFORMED_REQUEST, "The request body could not be parsed."),
    drf.AuthenticationFailed: (ErrorCode.AUTHENTICATION_FAILED, "Authentication failed."),
    drf.NotAuthenticated: (
        ErrorCode.NOT_AUTHENTICATED,
        "Authentication credentials were not provided.",
    ),
    drf.PermissionDenied: (ErrorCode.PERMISSION_DENIED, "You do not have permission to do this."),
    drf.NotFound: (ErrorCode.NOT_FOUND, "Not found."),
    drf.MethodNotAllowed: (ErrorCode.METHOD_NOT_ALLOWED, "This method is not allowed here."),
    drf.NotAcceptable: (
        ErrorCode.NOT_ACCEPTABLE,
        "The requested response format is not available.",
    ),
    drf.UnsupportedMediaType: (
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        "This content type is not supported.",
    ),
    drf.Throttled: (ErrorCode.RATE_LIMITED, "Too many requests. Try again later."),
}


def _from_drf(exc: drf.APIException) -> Response:
    headers: dict[str, str] = {}
    details: dict[str, Any] = {}
    if isinstance(exc, drf.ValidationError):
        fields = _flatten_validation(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        return Response(
            error_body(ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", {"fields": fields}),
            status=400,
        )
    if isinstance(exc, (InvalidToken, TokenError)):
        return Response(
            error_body(ErrorCode.TOKEN_NOT_VALID, "The token is invalid or expired."),
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    code, message = next(
        (pair for cls, pair in _DRF_CODES.items() if isinstance(exc, cls)),
        (ErrorCode.for_status(exc.status_code), str(exc.default_detail)),
    )
    if isinstance(exc, drf.ParseError):
        message = str(exc.detail) if exc.detail else message
    if isinstance(exc, drf.Throttled) and exc.wait is not None:
        retry_after = max(1, int(exc.wait + 0.999))
        headers["Retry-After"] = str(retry_after)
        details["retry_after"] = retry_after
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception a view raises becomes the envelope."""
    request = context.get("request")
    if isinstance(exc, BACKEND_OUTAGES):
        log_outage(exc, f"{getattr(request, 'method', '?')} {getattr(request, 'path', '?')}")
        exc = ServiceUnavailable()
        response = Response(
            error_body(exc.code, exc.message, exc.details), status=503, headers=exc.headers
        )
        # Already logged above, in one line; Django would log the 503 again as an error.
        response._has_been_logged = True
        return response
    if isinstance(exc, ApiError):
        return Response(
            error_body(exc.code, exc.message, exc.details),
            status=exc.status_code,
            headers=exc.headers,
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body(ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large."), status=413
        )
    if isinstance(exc, SuspiciousOperation):
        return Response(error_body(ErrorCode.BAD_REQUEST, "The request was rejected."), status=400)
    if isinstance(exc, drf.APIException):
        return _from_drf(exc)
    logger.exception(
        "Unhandled error in %s %s",
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
    )
    return Response(
        error_body(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side."), status=500
    )


def wants_envelope(request: HttpRequest) -> bool:
    """The paths a client reads as JSON: the API, and the sockets' paths (a plain HTTP
    request to one, e.g. from a proxy's health check, is answered there too)."""
    return request.path.startswith(("/api/", "/ws/"))


def not_found_response(request: HttpRequest) -> JsonResponse:
    path = request.path
    if path.endswith("/") and path != "/":
        try:
            resolve(path.rstrip("/"))
        except Resolver404:
            pass
        else:
            # An easy mistake with axios and friends: say so rather than a bare 404.
            return error_response(
                ErrorCode.NOT_FOUND,
                f"No such endpoint: {path.rstrip('/')} has no trailing slash.",
                {"path": path.rstrip("/")},
            )
    return error_response(ErrorCode.NOT_FOUND, "No such endpoint.")


def uncaught_error_response(request: HttpRequest, exc: BaseException | None) -> JsonResponse:
    # An outage met outside DRF (a middleware, a plain Django view) answers 503 like any
    # API view.
    if isinstance(exc, BACKEND_OUTAGES):
        log_outage(exc, f"{request.method} {request.path}")
        outage = ServiceUnavailable()
        response = error_response(outage.code, outage.message, outage.details, outage.headers)
        response._has_been_logged = True
        return response
    return error_response(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side.")


def handler404(request: HttpRequest, exception: Exception | None = None):
    if wants_envelope(request):
        return not_found_response(request)
    return page_not_found(request, exception)


def handler500(request: HttpRequest):
    # Django calls this while handling the exception, so it is still at hand.
    exc = sys.exc_info()[1]
    if wants_envelope(request) or isinstance(exc, BACKEND_OUTAGES):
        return uncaught_error_response(request, exc)
    return server_error(request)
