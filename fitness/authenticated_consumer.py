"""The base of every WebSocket consumer: a signed-in user, bounded JSON frames, and failures
answered in the REST error envelope.

Close codes are 4000 + the HTTP status a REST client would have seen (`fitness.ws`), and each
close frame carries a short reason for people reading logs and browser consoles; clients act
on the code.
"""

import logging
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from fitness import json_bounds
from fitness.api.errors import ApiError, error_body
from fitness.error_codes import ErrorCode
from fitness.ws import CLOSE_UNAUTHENTICATED

logger = logging.getLogger(__name__)


class MalformedFrame(ApiError):
    code = ErrorCode.MALFORMED_REQUEST
    message = "Frames are JSON text."


class FrameTooLarge(ApiError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    message = "The frame is too large."

    def __init__(self, max_bytes: int) -> None:
        super().__init__(details={"max_bytes": max_bytes})


class UnknownMessage(ApiError):
    code = ErrorCode.UNKNOWN_MESSAGE
    message = "This socket does not accept that message."


class CloseSocket(Exception):
    """Raised by `join` to refuse the socket with a close code and a short reason."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(reason)


class AuthenticatedJsonConsumer(AsyncJsonWebsocketConsumer):
    """Accepts, then closes 4401 unless `scope["user"]` is signed in (set by the JWT
    middleware); otherwise calls `join(user)`. Only a joined socket's frames reach
    `receive_json`, decoded within the REST bodies' bounds; an undecodable, oversize or too
    deep frame answers an error frame and the socket stays open.

    Accepting before refusing lets clients see a close code they can act on instead of a
    failed handshake.
    """

    joined = False
    client_gone = False

    async def connect(self) -> None:
        await self.accept()
        user = self.scope["user"]
        try:
            if not user.is_authenticated:
                raise CloseSocket(CLOSE_UNAUTHENTICATED, "Not signed in.")
            await self.join(user)
        except CloseSocket as refused:
            await self.close_with(refused.code, refused.reason)
            return
        self.joined = True

    async def join(self, user: Any) -> None:
        """Joins the socket's groups and greets the client; raises CloseSocket to refuse."""
        raise NotImplementedError

    async def close_with(self, code: int, reason: str) -> None:
        self.joined = False
        await self.close(code=code, reason=reason)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if not self.joined:
            return
        if text_data is None:
            await self.send_error(MalformedFrame())
            return
        limit = settings.WS_MAX_FRAME_BYTES
        if len(text_data.encode()) > limit:
            await self.send_error(FrameTooLarge(limit))
            return
        try:
            content = json_bounds.loads(text_data)
        except json_bounds.UnsafeJSON as exc:
            await self.send_error(MalformedFrame(str(exc)))
            return
        except ValueError:
            await self.send_error(MalformedFrame())
            return
        await self.receive_json(content, **kwargs)

    async def send_error(self, exc: ApiError) -> None:
        await self.send_frame({"type": "error", **error_body(exc.code, exc.message, exc.details)})

    async def send_frame(self, frame: dict[str, Any]) -> None:
        """Sends unless the client left: work in progress (a chat reply) is still finished
        and stored, and other sockets still receive it."""
        if self.client_gone:
            return
        try:
            await self.send_json(frame)
        except OSError:
            logger.info("Socket closed by the client before a frame was sent")
            self.client_gone = True
