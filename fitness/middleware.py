import logging
import re
import sys
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.functional import SimpleLazyObject, empty

from fitness.api.errors import (
    error_response,
    not_found_response,
    uncaught_error_response,
    wants_envelope,
)
from fitness.error_codes import ErrorCode
from fitness.logging import request_id_var

# Accept a caller's id only when it is short and plain, so it cannot inject into log lines.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Django's own logger for this, so operators who already filter it keep doing so.
_host_logger = logging.getLogger("django.security.DisallowedHost")


class RequestIDMiddleware:
    """Takes `X-Request-ID` from the caller (or makes one) and echoes it in the response."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def _begin(self, request: HttpRequest) -> None:
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _CLIENT_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Not reset on the way out: Django logs the response (django.request) after the
        # middleware chain has returned, and that line must carry the id too. The next
        # request on this context sets its own.
        request_id_var.set(request.id)

    def _end(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response["X-Request-ID"] = request.id
        return response

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        self._begin(request)
        return self._end(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest):
        self._begin(request)
        return self._end(request, await self.get_response(request))


class JsonErrorsMiddleware:
    """Every error under /api/ and /ws/ leaves as the envelope, with DEBUG on too.

    With DEBUG on, Django answers an unmatched URL or an uncaught exception with its HTML
    debug page instead of calling handler404/handler500, and a client that parses JSON
    (the app under `make run`) breaks on it. Any error answer there that is not JSON is
    replaced: 404 by the API's not-found answer, 5xx by the one for the exception Django
    met (remembered from `got_request_exception`; the traceback is logged, never sent),
    anything else by its status's generic code. Placed right after RequestIDMiddleware so
    that it sees every other middleware's answer.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self._enveloped(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest):
        return self._enveloped(request, await self.get_response(request))

    def _enveloped(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            response.status_code < 400
            or not wants_envelope(request)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        uncaught = getattr(request, UNCAUGHT_ATTRIBUTE, None)
        if response.status_code >= 500 and uncaught is not None:
            return uncaught_error_response(request, uncaught)
        if response.status_code == 404:
            enveloped = not_found_response(request)
        else:
            code = ErrorCode.for_status(response.status_code)
            enveloped = error_response(code, response.reason_phrase or "The request failed.")
            enveloped.status_code = response.status_code
        for header in _KEPT_HEADERS:
            if header in response:
                enveloped[header] = response[header]
        return enveloped


# What a client acts on in an error answer, kept when its body is replaced.
_KEPT_HEADERS = ("Retry-After", "Allow", "WWW-Authenticate")


UNCAUGHT_ATTRIBUTE = "_uncaught_exception"


def remember_uncaught_exception(sender, request=None, **kwargs) -> None:
    """`got_request_exception` receiver: Django sends it while the exception is handled."""
    if request is not None:
        setattr(request, UNCAUGHT_ATTRIBUTE, sys.exc_info()[1])


class BodySizeLimitMiddleware:
    """Refuses oversized non-upload bodies with 413 before anything reads them.

    DRF's JSON parser reads the raw stream and so never meets Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE check; multipart uploads are bounded by the storage app's
    own per-file limit instead.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        content_type = request.META.get("CONTENT_TYPE", "")
        if not content_type.startswith("multipart/form-data"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return error_response(
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    "The request body is too large.",
                    {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
                )
        return self.get_response(request)


class AllowedHostMiddleware:
    """Answers a `Host` outside ALLOWED_HOSTS with a 400 (the envelope under /api/) and one
    WARNING line.

    Left to Django, the first middleware that reads the host raises DisallowedHost, which
    answers an HTML page and logs an ERROR with a full traceback: scanners send such
    requests all day, and they would bury real errors. Placed before anything that reads
    the host (SecurityMiddleware does, to redirect).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        try:
            request.get_host()
        except DisallowedHost as exc:
            _host_logger.warning("Refused request: %s", exc)
            if wants_envelope(request):
                return error_response(ErrorCode.BAD_REQUEST, "This host name is not served here.")
            return HttpResponseBadRequest("Bad Request (400)", content_type="text/plain")
        return self.get_response(request)


class LazyMessageMiddleware(MessageMiddleware):
    """Django's messages (the admin's), their storage built only for a request that uses it.

    Django's builds a cookie and a session storage for every request, and the API never
    shows a message: 1% of a food-log page's instructions. A storage never built has nothing
    to save, which is what Django's would have found too.
    """

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
