from typing import Any

from fitness.authenticated_consumer import AuthenticatedJsonConsumer, UnknownMessage
from fitness.ws import user_group


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
