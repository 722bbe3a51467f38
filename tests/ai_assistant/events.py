"""What a user's WebSocket connections are sent, read straight off the channel layer (in
memory, or Redis when REDIS_URL is set, where events from worker processes arrive too)."""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from fitness.ws import user_group


class UserEvents:
    # Every write to a user's synced data is followed by `sync.changed` (tests/sync check
    # those); the tests here read the other events.
    ignored: tuple[str, ...] = ("sync.changed",)

    def __init__(self, user) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(user_group(user.pk), self.channel)

    def next(self, timeout: float = 2.0) -> dict | None:
        """The next event, or None if none comes within `timeout` seconds."""

        async def receive():
            try:
                return await asyncio.wait_for(self.layer.receive(self.channel), timeout)
            except TimeoutError:
                return None

        while True:
            message = async_to_sync(receive)()
            if message is None or message["event"]["type"] not in self.ignored:
                return message["event"] if message else None
