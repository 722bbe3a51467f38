import uuid

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from accounts import tokens
from fitness.asgi import application
from fitness.ws import send_user_event
from tests.frames import job_finished_payload

pytestmark = pytest.mark.django_db(transaction=True)


async def _access_token(user) -> str:
    pair = await sync_to_async(tokens.issue_pair)(user)
    return pair["access_token"]


async def _connect(path: str, headers=None):
    communicator = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_events_socket_accepts_bearer_header(user):
    token = await _access_token(user)
    ws = await _connect("/ws/events/", [(b"authorization", f"Bearer {token}".encode())])
    assert await ws.receive_json_from() == {"type": "connected", "user_id": str(user.id)}
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    await ws.disconnect()


async def test_events_socket_accepts_query_token_and_delivers_user_events(user, other_user):
    token = await _access_token(user)
    ws = await _connect(f"/ws/events/?token={token}")
    await ws.receive_json_from()
    theirs, mine = job_finished_payload(uuid.uuid4()), job_finished_payload(uuid.uuid4())
    await sync_to_async(send_user_event)(other_user.id, "job.finished", theirs)
    await sync_to_async(send_user_event)(user.id, "job.finished", mine)
    assert await ws.receive_json_from() == {"type": "job.finished", **mine}
    await ws.disconnect()


@pytest.mark.parametrize("token", [None, "garbage"])
async def test_events_socket_closes_4401_without_valid_token(token):
    path = "/ws/events/" + (f"?token={token}" if token else "")
    ws = await _connect(path)
    assert await ws.receive_output() == {
        "type": "websocket.close",
        "code": 4401,
        "reason": "Not signed in.",
    }


async def test_events_socket_refuses_revoked_access_token(user):
    token = await _access_token(user)
    await sync_to_async(tokens.revoke_access_token)(AccessToken(token))
    ws = await _connect(f"/ws/events/?token={token}")
    assert await ws.receive_output() == {
        "type": "websocket.close",
        "code": 4401,
        "reason": "Not signed in.",
    }


async def test_events_socket_rejects_foreign_origin(user, settings):
    settings.DEBUG = False
    token = await _access_token(user)
    communicator = WebsocketCommunicator(
        application, f"/ws/events/?token={token}", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_events_socket_answers_unknown_messages_in_the_envelope(user):
    token = await _access_token(user)
    ws = await _connect(f"/ws/events/?token={token}")
    await ws.receive_json_from()
    await ws.send_json_to({"type": "subscribe"})
    assert await ws.receive_json_from() == {
        "type": "error",
        "error": {
            "code": "unknown_message",
            "message": "Only ping is accepted here.",
            "details": {},
        },
    }
    await ws.disconnect()


# Under the frame size bound (64 KiB), far past the decoder's recursion limit.
DEPTH_BOMB = "[" * 30_000 + "]" * 30_000


@pytest.mark.parametrize(
    ("frame", "code", "details"),
    [
        ({"text_data": DEPTH_BOMB}, "malformed_request", {}),
        ({"text_data": "[" * 100_000 + "]" * 100_000}, "payload_too_large", {"max_bytes": 65536}),
        ({"text_data": '{"type": "ping", "x": "\\u0000"}'}, "malformed_request", {}),
        ({"text_data": "ping"}, "malformed_request", {}),
        ({"text_data": '{"type": "ping", "n": NaN}'}, "malformed_request", {}),
        ({"bytes_data": b'{"type": "ping"}'}, "malformed_request", {}),
        (
            {"text_data": '{"type": "ping", "pad": "' + "é" * 40_000 + '"}'},
            "payload_too_large",
            {"max_bytes": 65536},
        ),
    ],
    ids=[
        "depth_bomb",
        "depth_bomb_of_the_report",
        "nul",
        "not_json",
        "nan",
        "binary",
        "oversize_in_utf8",
    ],
)
async def test_events_socket_answers_unsafe_frames_and_stays_open(user, frame, code, details):
    token = await _access_token(user)
    ws = await _connect(f"/ws/events/?token={token}")
    await ws.receive_json_from()

    await ws.send_to(**frame)
    error = await ws.receive_json_from()
    await ws.send_json_to({"type": "ping"})

    assert error["type"] == "error"
    assert error["error"]["code"] == code
    assert error["error"]["details"] == details
    assert await ws.receive_json_from() == {"type": "pong"}
    await ws.disconnect()


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/events", "/ws/ai/chat/"])
async def test_unknown_socket_path_answers_not_found_frame_then_closes_4404(path):
    ws = await _connect(path)

    frame = await ws.receive_json_from()

    assert frame == {
        "type": "error",
        "error": {"code": "not_found", "message": "No such socket.", "details": {"path": path}},
    }
    assert await ws.receive_output() == {
        "type": "websocket.close",
        "code": 4404,
        "reason": "No such socket.",
    }
