"""Refusing oversized request bodies before Django reads them, under ASGI.

Django's ASGI handler reads the whole body (spilling to a temporary file past
FILE_UPLOAD_MAX_MEMORY_SIZE) before any middleware or view runs, so the upload views'
Content-Length check would only fire after a huge body had been written out. This wrapper
answers 413 first: at once when the declared length is too large, or as soon as a body
without one grows past the largest body the API accepts (a full batch upload).
"""

import json

from django.conf import settings

from fitness.api.errors import error_body
from fitness.error_codes import ErrorCode
from fitness.uploads import MULTIPART_OVERHEAD_BYTES


def max_request_bytes() -> int:
    batch = settings.STORAGE_BATCH_MAX_FILES * settings.STORAGE_MAX_UPLOAD_BYTES
    return max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, batch + MULTIPART_OVERHEAD_BYTES)


class RequestBodyLimit:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max_request_bytes()
        if _declared_length(scope) > limit:
            await _refuse(send, limit)
            return
        received = 0

        async def bounded_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    await _refuse(send, limit)
                    # Django drops a request whose client went away, answering nothing more.
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, bounded_receive, send)


def _declared_length(scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _refuse(send, limit: int) -> None:
    body = json.dumps(
        error_body(
            ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large.", {"max_bytes": limit}
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
