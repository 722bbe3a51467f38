from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from fitness.api.errors import error_body
from fitness.authenticated_consumer import AuthenticatedJsonConsumer, UnknownMessage
from fitness.error_codes import ErrorCode
from fitness.ws import CLOSE_NOT_FOUND, user_group


class EventsConsumer(AuthenticatedJsonConsumer):
    """`/ws/events/`: live updates for the signed-in user (finished jobs, new messages...)."""

    group: str | None = None

    async def join(self, user: Any) -> None:
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "connected", "user_id": str(user.pk)})

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_frame({"type": "pong"})
            return
        await self.send_error(UnknownMessage("Only ping is accepted here."))

    async def user_event(self, message):
        await self.send_frame(message["event"])


class UnknownPathConsumer(AsyncJsonWebsocketConsumer):
    """Any other path under /ws/: one error frame in the envelope, then close 4404.

    Without it the router raises, and the client sees a failed handshake it cannot tell
    from a network failure (and retries forever).
    """

    async def connect(self) -> None:
        await self.accept()
        path = self.scope.get("path", "")
        body = error_body(ErrorCode.NOT_FOUND, "No such socket.", {"path": path})
        await self.send_json({"type": "error", **body})
        await self.close(code=CLOSE_NOT_FOUND, reason="No such socket.")
