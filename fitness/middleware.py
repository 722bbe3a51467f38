import re
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from fitness.api.errors import error_response
from fitness.error_codes import ErrorCode
from fitness.logging import request_id_var

# Accept a caller's id only when it is short and plain, so it cannot inject into log lines.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


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
