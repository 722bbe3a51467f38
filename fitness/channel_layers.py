"""The Redis channel layer, with a receive that ends when it is cancelled.

A consumer stops by cancelling its pending `receive` and awaiting it (channels'
`await_many_dispatch`). On Python 3.11, `asyncio.wait_for` returns the result instead of
raising when the awaited future finishes in the same turn as the cancellation (fixed in
3.12), and redis-py, given a socket timeout (as here), sends every command through
`wait_for(drain())`, which is done at once.
A cancellation that lands while a command is sent (most likely on a new connection's
handshake, as when a socket is refused the moment it opens) is swallowed: the receive loops
on its 5 s blocking pop for ever, the consumer never ends, and each such socket keeps a task
and a Redis connection until the process exits (redis-py #2028 is the same race).

So the receive runs as a task of its own, and a cancelled caller cancels it again until it
has ended. The cancellation means what it did: a message the receive had not yet handed
back stays in channels_redis's backup queue for the channel's next receive, and one it
had (if it finished in the same turn) goes unread, as the stock layer's would; only a
consumer that is ending cancels its receive, and it has no use for either.
"""

import asyncio
from typing import Any

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer

# How long a cancelled receive gets to end before it is cancelled again: a swallowed
# cancellation leaves it waiting in its next command, which the next one interrupts.
_RECANCEL_SECONDS = 0.05


class RedisChannelLayer(_RedisChannelLayer):
    async def receive(self, channel: str) -> dict[str, Any]:
        pending = asyncio.ensure_future(super().receive(channel))
        try:
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            while not pending.done():
                pending.cancel()
                await asyncio.wait([pending], timeout=_RECANCEL_SECONDS)
            raise
