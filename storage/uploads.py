"""Bounding multipart uploads while they stream in, so an oversized file is refused with 413
before it is held in memory or written out in full.

`fitness.middleware.BodySizeLimitMiddleware` lets multipart bodies through; views taking
files call `limit_multipart_upload` before they first touch `request.data`.
"""

from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat

from fitness.api.errors import ApiError

# Room for multipart boundaries, part headers and the small text fields beside the files.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class FileTooLarge(ApiError):
    status_code = 413
    code = "file_too_large"
    message = "The file is too large."

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"Each file may be at most {filesizeformat(max_bytes)}.",
            details={"max_bytes": max_bytes},
        )


class BodyTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is too large."


class PerFileLimitUploadHandler(FileUploadHandler):
    """First in the handler chain: counts each file's bytes as they arrive and stops the
    upload as soon as one file passes the limit. The later handlers (memory, then temporary
    file past FILE_UPLOAD_MAX_MEMORY_SIZE) do the storing."""

    def __init__(self, request: HttpRequest | None = None, *, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            raise FileTooLarge(self.max_bytes)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def limit_multipart_upload(request: HttpRequest, *, max_files: int, max_file_bytes: int) -> None:
    """Refuses a declared body larger than `max_files` full files (413, nothing read) and
    installs the per-file counter for bodies that lie about, or omit, their length."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    max_body = max_files * max_file_bytes + MULTIPART_OVERHEAD_BYTES
    if declared > max_body:
        raise BodyTooLarge(details={"max_bytes": max_body})
    request.upload_handlers.insert(0, PerFileLimitUploadHandler(request, max_bytes=max_file_bytes))
