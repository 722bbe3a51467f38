"""The chat socket as a client meets it: uvicorn serving the ASGI app on 127.0.0.1, a real
WebSocket client (`websockets`), and the Gemini stand-in streaming over real HTTP."""

import asyncio
import json
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import uvicorn
from channels.db import database_sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from accounts import tokens
from ai_assistant.models import ChatMessage
from fitness.asgi import application
from fitness.ws import send_user_event
from tests.ai_assistant.coach import conversation_for, stream_later
from tests.ai_assistant.conftest import STANDIN_KEY
from tests.ai_assistant.gemini_standin import usage
from tests.frames import check_server_frame, job_finished_payload
from tests.servers import WS_MAX_SIZE, start_servers, stop_servers

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5
# A server process imports Django before it accepts; on a loaded machine that takes a while.
STARTUP_TIMEOUT = 60
# The idle-socket test's server pings every 2 s and reads Redis with a 3 s timeout around
# 2 s blocking pops (tests/ai_assistant/idle_settings.py): 7 s idle outlasts that timeout
# twice, three pops and three pings, any of which drops the socket if its pong is 2 s late.
IDLE_PING_SECONDS = 2
IDLE_SECONDS = 7


@pytest.fixture
def server_url():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        application,
        lifespan="off",
        loop="asyncio",
        ws="auto",
        log_level="warning",
        ws_max_size=WS_MAX_SIZE,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    host, port = listener.getsockname()
    yield f"ws://{host}:{port}"
    server.should_exit = True
    thread.join(TIMEOUT)
    listener.close()


@database_sync_to_async
def setup_chat(user):
    conversation = conversation_for(user)
    return conversation, {"Authorization": f"Bearer {tokens.issue_pair(user)['access_token']}"}


@database_sync_to_async
def stored(conversation):
    return list(
        ChatMessage.objects.filter(conversation=conversation)
        .order_by("timestamp", "id")
        .values_list("role", "content", "interrupted")
    )


async def receive(websocket) -> dict:
    frame = json.loads(await asyncio.wait_for(websocket.recv(), TIMEOUT))
    check_server_frame(urlsplit(websocket.request.path).path, frame)
    return frame


async def test_server_streams_gemini_chunks_to_websocket_client(server_url, user, gemini):
    conversation, headers = await setup_chat(user)
    chunks = ["Three ", "sets ", "of ", "ten ", "squats."]
    gemini.stream(chunks, usage_metadata=usage(prompt=500, output=5))

    async with connect(
        f"{server_url}/ws/ai/chat/{conversation.session_id}/", additional_headers=headers
    ) as websocket:
        assert (await receive(websocket))["type"] == "connected"
        await websocket.send(json.dumps({"type": "message", "content": "Leg workout?"}))
        frames = [await receive(websocket) for _ in range(len(chunks) + 1)]
        rows_when_final_arrived = await stored(conversation)

    assert [frame.get("delta") for frame in frames[:-1]] == chunks
    assert all(frame["type"] == "ai_response.delta" for frame in frames[:-1])
    final = frames[-1]
    assert final["type"] == "ai_response"
    assert final["data"]["data"]["reply"]["content"] == "Three sets of ten squats."
    assert final["data"]["data"]["reply"]["output_tokens"] == 5
    assert rows_when_final_arrived == [
        ("user", "Leg workout?", False),
        ("assistant", "Three sets of ten squats.", False),
    ]
    [sent] = gemini.requests
    assert sent.action == "streamGenerateContent"


async def test_server_keeps_message_and_reply_when_client_drops(server_url, user, gemini, caplog):
    conversation, headers = await setup_chat(user)
    # Gemini answers only after the client has gone.
    stream_later(gemini, ["Saved ", "anyway."], delay=0.3)

    async with connect(
        f"{server_url}/ws/ai/chat/{conversation.session_id}/", additional_headers=headers
    ) as websocket:
        await receive(websocket)
        await websocket.send(json.dumps({"type": "message", "content": "Going offline"}))
        await asyncio.sleep(0.05)

    deadline = time.monotonic() + TIMEOUT
    rows = await stored(conversation)
    while len(rows) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        rows = await stored(conversation)
    assert rows == [("user", "Going offline", False), ("assistant", "Saved anyway.", False)]
    assert "closed by the client" in caplog.text


async def test_server_closes_with_1009_past_its_max_size(server_url, user):
    _, headers = await setup_chat(user)

    async with connect(f"{server_url}/ws/events/", additional_headers=headers) as websocket:
        assert (await receive(websocket))["type"] == "connected"
        await websocket.send("x" * (WS_MAX_SIZE + 1))
        with pytest.raises(ConnectionClosedError):
            await receive(websocket)

    assert websocket.close_code == 1009


def _gemini_env(gemini) -> dict:
    return {"GEMINI_API_KEY": STANDIN_KEY, "GEMINI_BASE_URL": gemini.url}


@pytest.fixture
def idle_server_process(gemini):
    servers, [address] = start_servers(
        1,
        ping_seconds=IDLE_PING_SECONDS,
        DJANGO_SETTINGS_MODULE="tests.ai_assistant.idle_settings",
        **_gemini_env(gemini),
    )
    yield f"ws://{address}"
    stop_servers(servers)


@pytest.fixture
def two_server_processes(gemini):
    servers, addresses = start_servers(2, **_gemini_env(gemini))
    yield [f"ws://{address}" for address in addresses]
    stop_servers(servers)


async def test_sockets_on_two_processes_both_receive_the_reply(two_server_processes, user, gemini):
    conversation, headers = await setup_chat(user)
    gemini.stream(["Same ", "on both."])
    path = f"/ws/ai/chat/{conversation.session_id}/"
    first, second = two_server_processes

    async with (
        connect(
            f"{first}{path}", additional_headers=headers, open_timeout=STARTUP_TIMEOUT
        ) as phone,
        connect(
            f"{second}{path}", additional_headers=headers, open_timeout=STARTUP_TIMEOUT
        ) as tablet,
    ):
        await asyncio.wait_for(phone.recv(), STARTUP_TIMEOUT)
        await asyncio.wait_for(tablet.recv(), STARTUP_TIMEOUT)
        await phone.send(json.dumps({"type": "message", "content": "Hello from the phone"}))
        phone_frames = [await receive(phone) for _ in range(3)]
        tablet_frames = [await receive(tablet) for _ in range(2)]

    assert [frame["type"] for frame in phone_frames] == [
        "ai_response.delta",
        "ai_response.delta",
        "ai_response",
    ]
    assert tablet_frames[0]["type"] == "user_message"
    assert tablet_frames[0]["data"]["content"] == "Hello from the phone"
    assert tablet_frames[1] == phone_frames[-1]
    assert tablet_frames[1]["data"]["data"]["reply"]["content"] == "Same on both."


async def test_idle_sockets_outlast_the_redis_read_timeout_then_work(
    idle_server_process, user, gemini
):
    """Idle sockets wait in a blocking Redis read; one that outlasts the Redis client's read
    timeout must not take the socket down, nor must the server's keepalive pings."""
    conversation, headers = await setup_chat(user)
    gemini.stream(["Still ", "here."])

    async with (
        connect(
            f"{idle_server_process}/ws/events/",
            additional_headers=headers,
            open_timeout=STARTUP_TIMEOUT,
        ) as events,
        connect(
            f"{idle_server_process}/ws/ai/chat/{conversation.session_id}/",
            additional_headers=headers,
            open_timeout=STARTUP_TIMEOUT,
        ) as chat,
    ):
        assert (
            json.loads(await asyncio.wait_for(events.recv(), STARTUP_TIMEOUT))["type"]
            == "connected"
        )
        assert (
            json.loads(await asyncio.wait_for(chat.recv(), STARTUP_TIMEOUT))["type"] == "connected"
        )
        await asyncio.sleep(IDLE_SECONDS)

        await chat.send(json.dumps({"type": "message", "content": "Still there?"}))
        chat_frames = [await receive(chat) for _ in range(3)]
        payload = job_finished_payload(uuid.uuid4())
        await database_sync_to_async(send_user_event)(user.id, "job.finished", payload)
        # The chat's own messages are news for the events socket too (sync.changed).
        event = await receive(events)
        while event["type"] == "sync.changed":
            event = await receive(events)

    assert [frame["type"] for frame in chat_frames] == [
        "ai_response.delta",
        "ai_response.delta",
        "ai_response",
    ]
    assert chat_frames[-1]["data"]["data"]["reply"]["content"] == "Still here."
    assert event == {"type": "job.finished", **payload}


async def test_events_socket_hears_of_the_message_and_of_the_reply(server_url, user, gemini):
    """Two writes in two transactions (the message, then the reply): two `sync.changed`."""
    conversation, headers = await setup_chat(user)
    gemini.stream(["Drink ", "water."])

    async with (
        connect(f"{server_url}/ws/events/", additional_headers=headers) as events,
        connect(
            f"{server_url}/ws/ai/chat/{conversation.session_id}/", additional_headers=headers
        ) as chat,
    ):
        assert (await receive(events))["type"] == "connected"
        assert (await receive(chat))["type"] == "connected"
        await chat.send(json.dumps({"type": "message", "content": "Hydration?"}))
        chat_frames = [await receive(chat) for _ in range(3)]
        changed = [await receive(events) for _ in range(2)]

    assert chat_frames[-1]["type"] == "ai_response"
    assert [(event["type"], event["tables"]) for event in changed] == [
        ("sync.changed", ["chat_messages"]),
        ("sync.changed", ["chat_messages"]),
    ]
