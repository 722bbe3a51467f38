from channels.generic.websocket import AsyncJsonWebsocketConsumer

from fitness.api.errors import error_body
from fitness.error_codes import ErrorCode
from fitness.ws import CLOSE_UNAUTHENTICATED, user_group


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/events/`: live updates for the signed-in user (finished jobs, new messages...)."""

    async def connect(self):
        await self.accept()
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "connected", "user_id": str(user.pk)})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        await self.send_json(
            {
                "type": "error",
                **error_body(ErrorCode.UNKNOWN_MESSAGE, "Only ping is accepted here."),
            }
        )

    async def user_event(self, message):
        await self.send_json(message["event"])
