"""The Redis channel layer's receive ends when it is cancelled, wherever the cancellation
lands (fitness/channel_layers.py says why the stock one may not)."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings

from fitness.asgi import application
from fitness.channel_layers import RedisChannelLayer

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")

ENDED_WITHIN = 1.0


def _layer() -> RedisChannelLayer:
    return RedisChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])


async def test_a_receive_cancelled_at_any_point_of_its_first_commands_ends():
    # Each layer opens a new connection, so the cancellation lands in turn on the handshake,
    # the backup queue's clean-up and the blocking pop: with the stock layer some of these
    # turns (9 to 11 here) leave the receive popping for ever.
    for turns in range(30):
        layer = _layer()
        channel = await layer.new_channel()
        receive = asyncio.ensure_future(layer.receive(channel))
        for _ in range(turns):
            await asyncio.sleep(0)
        receive.cancel()
        done, _ = await asyncio.wait([receive], timeout=ENDED_WITHIN)
        assert done, f"a receive cancelled after {turns} turns was still running"
        assert receive.cancelled()
        await layer.flush()


async def test_a_channel_still_receives_after_a_receive_was_cancelled():
    layer = _layer()
    channel = await layer.new_channel()
    receive = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.05)
    receive.cancel()
    await asyncio.wait([receive], timeout=ENDED_WITHIN)

    await layer.send(channel, {"type": "hello"})

    assert await asyncio.wait_for(layer.receive(channel), ENDED_WITHIN) == {"type": "hello"}
    await layer.flush()


@pytest.mark.django_db(transaction=True)
async def test_a_refused_socket_ends_when_the_client_leaves():
    socket = WebsocketCommunicator(application, "/ws/events/?token=garbage")
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_output())["code"] == 4401

    await socket.send_input({"type": "websocket.disconnect", "code": 1000})

    # Raises TimeoutError if the consumer is still running a second later.
    await asyncio.wait_for(asyncio.shield(socket.future), ENDED_WITHIN)
