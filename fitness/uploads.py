"""Bounding multipart uploads while they stream in, so an oversized file is refused with 413
before it is held in memory or written out in full.

`fitness.middleware.BodySizeLimitMiddleware` lets multipart bodies through; views taking
files read their body with `read_multipart` (never `request.data` first), and services
taking an `UploadedFile` from elsewhere check it with `check_upload_size`.
"""

from collections import Counter
from typing import Any

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from rest_framework.exceptions import ValidationError

from fitness.api.errors import ApiError
from fitness.error_codes import ErrorCode

# Room for multipart boundaries, part headers and the small text fields beside the files.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class FileTooLarge(ApiError):
    code = ErrorCode.FILE_TOO_LARGE
    message = "The file is too large."

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"Each file may be at most {filesizeformat(max_bytes)}.",
            details={"max_bytes": max_bytes},
        )


class BodyTooLarge(ApiError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    message = "The request body is too large."


class PerFileLimitUploadHandler(FileUploadHandler):
    """First in the handler chain: counts each file's bytes as they arrive. When one file
    passes the limit it either stops the upload (413) or, with `skip_oversized`, drops just
    that file and remembers its position so a batch can report it. The later handlers
    (memory, then a temporary file past FILE_UPLOAD_MAX_MEMORY_SIZE) do the storing."""

    def __init__(
        self, request: HttpRequest | None = None, *, max_bytes: int, skip_oversized: bool = False
    ) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.skip_oversized = skip_oversized
        self.received = 0
        self._seen: Counter[str] = Counter()
        self._skipped: list[tuple[str, int]] = []

    def new_file(self, field_name: str, *args, **kwargs) -> None:
        super().new_file(field_name, *args, **kwargs)
        self.received = 0
        self._position = (field_name, self._seen[field_name])
        self._seen[field_name] += 1

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            if self.skip_oversized:
                self._skipped.append(self._position)
                raise SkipFile()
            raise FileTooLarge(self.max_bytes)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def skipped(self, field_name: str) -> list[int]:
        """Positions, among the files sent under `field_name`, of those dropped as too large."""
        return [index for name, index in self._skipped if name == field_name]


def limit_multipart_upload(
    request: HttpRequest, *, max_files: int, max_file_bytes: int, skip_oversized: bool = False
) -> PerFileLimitUploadHandler:
    """Refuses a declared body larger than `max_files` full files (413, nothing read) and
    installs the per-file counter for bodies that lie about, or omit, their length."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    max_body = max_files * max_file_bytes + MULTIPART_OVERHEAD_BYTES
    if declared > max_body:
        raise BodyTooLarge(details={"max_bytes": max_body})
    counter = PerFileLimitUploadHandler(
        request, max_bytes=max_file_bytes, skip_oversized=skip_oversized
    )
    request.upload_handlers.insert(0, counter)
    return counter


def read_multipart(
    request: Any, *, max_files: int, field: str, skip_oversized: bool = False
) -> tuple[Any, PerFileLimitUploadHandler]:
    """(request.data, the per-file counter), with each file bounded by
    STORAGE_MAX_UPLOAD_BYTES while it streams in; more than `max_files` files is a 400
    naming `field`."""
    counter = limit_multipart_upload(
        request,
        max_files=max_files,
        max_file_bytes=settings.STORAGE_MAX_UPLOAD_BYTES,
        skip_oversized=skip_oversized,
    )
    try:
        return request.data, counter
    except TooManyFilesSent as exc:
        raise ValidationError({field: [f"At most {max_files} files per request."]}) from exc


def check_upload_size(upload: UploadedFile) -> None:
    """413 for an upload past STORAGE_MAX_UPLOAD_BYTES, for files that did not come through
    `read_multipart` (whose counter already stopped them)."""
    max_bytes = settings.STORAGE_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > max_bytes:
        raise FileTooLarge(max_bytes)
