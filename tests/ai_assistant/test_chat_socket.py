"""/ws/ai/chat/{session}/ through the project's ASGI stack (origin check, JWT middleware,
routing) with channels' WebsocketCommunicator, and the real SDK against the Gemini stand-in."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection

from accounts import tokens
from accounts.models import User
from ai_assistant.chat import services
from ai_assistant.models import AIConversation, AIUsage, ChatMessage
from analytics.models import Event
from fitness import offline
from fitness.asgi import application
from tests.ai_assistant.coach import conversation_for, stream_later, system_instruction, turns
from tests.ai_assistant.gemini_standin import google_error
from tests.asserts import assert_error_envelope

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


@database_sync_to_async
def new_conversation(owner, **fields):
    return conversation_for(owner, **fields)


@database_sync_to_async
def stored(conversation):
    return list(
        ChatMessage.objects.filter(conversation=conversation)
        .order_by("timestamp", "id")
        .values_list("role", "content", "interrupted")
    )


@database_sync_to_async
def bearer(user) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {tokens.issue_pair(user)['access_token']}".encode())]


async def open_socket(path: str, headers=None) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    return socket


async def chat_socket(user, conversation) -> WebsocketCommunicator:
    socket = await open_socket(f"/ws/ai/chat/{conversation.session_id}/", await bearer(user))
    assert await socket.receive_json_from(TIMEOUT) == {
        "type": "connected",
        "session_id": str(conversation.session_id),
    }
    return socket


def closed(code: int, reason: str) -> dict:
    return {"type": "websocket.close", "code": code, "reason": reason}


async def say(socket, content):
    await socket.send_json_to({"type": "message", "content": content})


async def frames_until_final(socket) -> list[dict]:
    """Frames up to and including the next `ai_response` or `error`."""
    frames = []
    while not frames or frames[-1]["type"] not in ("ai_response", "error"):
        frames.append(await socket.receive_json_from(TIMEOUT))
    return frames


async def test_socket_streams_deltas_in_order_then_final_ai_response(user, gemini):
    conversation = await new_conversation(user)
    gemini.stream(["Drink ", "more ", "water ", "today."])
    socket = await chat_socket(user, conversation)

    await say(socket, "Any tips?")
    frames = await frames_until_final(socket)
    rows_when_final_arrived = await stored(conversation)

    assert frames[:-1] == [
        {"type": "ai_response.delta", "delta": "Drink "},
        {"type": "ai_response.delta", "delta": "more "},
        {"type": "ai_response.delta", "delta": "water "},
        {"type": "ai_response.delta", "delta": "today."},
    ]
    final = frames[-1]
    assert final["type"] == "ai_response"
    assert set(final["data"]) == {"data", "confidence", "processing_time", "source"}
    assert final["data"]["source"] == "gemini"
    reply = final["data"]["data"]["reply"]
    assert reply["content"] == "Drink more water today."
    assert final["data"]["data"]["message"]["content"] == "Any tips?"
    assert rows_when_final_arrived == [
        ("user", "Any tips?", False),
        ("assistant", "Drink more water today.", False),
    ]
    assert await socket.receive_nothing()
    await socket.disconnect()


async def test_socket_stores_users_message_before_gemini_is_called(user, gemini, monkeypatch):
    conversation = await new_conversation(user)
    seen_by_gemini = []
    record = gemini._record

    def record_with_database_state(request):
        # Runs in the stand-in's thread, when the request reaches "Gemini".
        seen_by_gemini.append(list(ChatMessage.objects.values_list("role", "content")))
        connection.close()
        record(request)

    monkeypatch.setattr(gemini, "_record", record_with_database_state)
    gemini.stream(["Yes."])
    socket = await chat_socket(user, conversation)

    await say(socket, "Saved first?")
    await frames_until_final(socket)

    assert seen_by_gemini == [[("user", "Saved first?")]]
    await socket.disconnect()


async def test_socket_asks_gemini_before_tracking_and_telling_devices(user, gemini, monkeypatch):
    conversation = await new_conversation(user)
    happened = []
    record = gemini._record

    def record_with_database_state(request):
        # Runs in the stand-in's thread, when the request reaches "Gemini".
        happened.append(("gemini", list(Event.objects.values_list("name", flat=True))))
        connection.close()
        record(request)

    def told(user_id, kind, payload):
        happened.append((kind, payload["tables"]))

    monkeypatch.setattr(gemini, "_record", record_with_database_state)
    monkeypatch.setattr(offline, "send_user_event", told)
    gemini.stream(["Yes."])
    socket = await chat_socket(user, conversation)

    await say(socket, "Later?")
    await frames_until_final(socket)
    await socket.disconnect()

    assert happened[0] == ("gemini", [])
    assert ("sync.changed", ["chat_messages"]) in happened[1:]
    events = await database_sync_to_async(lambda: list(Event.objects.values_list("name")))()
    assert events == [("chat_message_sent",)]


async def test_socket_accepts_token_in_query_string(user, gemini):
    conversation = await new_conversation(user)
    token = (await database_sync_to_async(tokens.issue_pair)(user))["access_token"]
    gemini.stream(["Hi."])

    socket = await open_socket(f"/ws/ai/chat/{conversation.session_id}/?token={token}")
    assert (await socket.receive_json_from(TIMEOUT))["type"] == "connected"
    await say(socket, "Hello")

    assert (await frames_until_final(socket))[-1]["type"] == "ai_response"
    await socket.disconnect()


@pytest.mark.parametrize("token", [None, "garbage"])
async def test_socket_closes_4401_without_valid_token(user, token):
    conversation = await new_conversation(user)
    query = f"?token={token}" if token else ""

    socket = await open_socket(f"/ws/ai/chat/{conversation.session_id}/{query}")

    assert await socket.receive_output(TIMEOUT) == closed(4401, "Not signed in.")


@pytest.mark.parametrize("session", ["theirs", "unknown", "not-a-uuid"])
async def test_socket_closes_4404_for_session_not_callers(user, other_user, session):
    theirs = await new_conversation(other_user)
    path = {
        "theirs": theirs.session_id,
        "unknown": "6f1c2a4e-0000-4000-8000-000000000000",
        "not-a-uuid": "not-a-uuid",
    }[session]

    socket = await open_socket(f"/ws/ai/chat/{path}/", await bearer(user))

    assert await socket.receive_output(TIMEOUT) == closed(4404, "No such conversation.")


async def test_socket_rejects_foreign_origin(user, settings):
    settings.DEBUG = False
    conversation = await new_conversation(user)
    headers = [*await bearer(user), (b"origin", b"https://evil.example")]
    socket = WebsocketCommunicator(
        application, f"/ws/ai/chat/{conversation.session_id}/", headers=headers
    )

    connected, _ = await socket.connect(TIMEOUT)

    assert not connected


async def test_socket_reports_error_mid_stream_and_stays_usable(user, gemini):
    conversation = await new_conversation(user)
    gemini.stream(["Half "], then_error=google_error(500, "INTERNAL", "Broke."))
    gemini.stream(["All good now."])
    socket = await chat_socket(user, conversation)

    await say(socket, "First")
    failed = await frames_until_final(socket)
    await say(socket, "Second")
    recovered = await frames_until_final(socket)

    assert failed[0] == {"type": "ai_response.delta", "delta": "Half "}
    assert failed[-1]["type"] == "error"
    assert_error_envelope(failed[-1], "network_error")
    assert recovered[-1]["data"]["data"]["reply"]["content"] == "All good now."
    assert await stored(conversation) == [
        ("user", "First", False),
        ("assistant", "Half ", True),
        ("user", "Second", False),
        ("assistant", "All good now.", False),
    ]
    # The broken reply is not sent back to the model; the unanswered message is.
    assert turns(gemini.requests[1]) == [("user", ["First", "Second"])]
    await socket.disconnect()


async def test_socket_reports_gemini_failure_before_any_text(user, gemini):
    conversation = await new_conversation(user)
    gemini.error(403, "PERMISSION_DENIED", "Key not allowed.")
    socket = await chat_socket(user, conversation)

    await say(socket, "Hello?")
    frames = await frames_until_final(socket)

    assert frames == [
        {
            "type": "error",
            "error": {
                "code": "invalid_key",
                "message": "The AI provider rejected this server's API key.",
                "details": {},
            },
        }
    ]
    assert await stored(conversation) == [("user", "Hello?", False)]
    await socket.disconnect()


async def test_socket_error_when_ai_unavailable_and_nothing_stored(user):
    conversation = await new_conversation(user)
    socket = await chat_socket(user, conversation)

    await say(socket, "Hello?")

    frame = await socket.receive_json_from(TIMEOUT)
    assert frame["type"] == "error"
    assert_error_envelope(frame, "ai_unavailable")
    assert await stored(conversation) == []
    await socket.disconnect()


async def test_socket_rate_limited_like_rest(user, gemini, settings):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RATE_LIMITS": {**settings.AI_SERVICE["RATE_LIMITS"], "chat": "1/hour"},
    }
    conversation = await new_conversation(user)
    gemini.stream(["One."])
    socket = await chat_socket(user, conversation)

    await say(socket, "one")
    await frames_until_final(socket)
    await say(socket, "two")
    frame = await socket.receive_json_from(TIMEOUT)

    assert frame["type"] == "error"
    assert assert_error_envelope(frame, "rate_limited")["details"]["retry_after"] > 0
    assert len(gemini.requests) == 1
    assert [content for _, content, _ in await stored(conversation)] == ["one", "One."]
    await socket.disconnect()


async def test_socket_takes_the_rest_body_and_the_conversations_own_id(user, gemini):
    conversation = await new_conversation(user)
    gemini.stream(["Same ", "answer."])
    # The conversation's `id` addresses it as its `session_id` does.
    socket = await open_socket(f"/ws/ai/chat/{conversation.id}/", await bearer(user))
    connected = await socket.receive_json_from(TIMEOUT)

    await socket.send_json_to({"message": "Sent as REST sends it"})
    frames = await frames_until_final(socket)

    assert connected == {"type": "connected", "session_id": str(conversation.session_id)}
    assert frames[-1]["type"] == "ai_response"
    assert frames[-1]["data"]["data"]["message"]["content"] == "Sent as REST sends it"
    await socket.disconnect()


async def test_socket_rejects_invalid_frames_and_stays_usable(user, gemini):
    conversation = await new_conversation(user)
    socket = await chat_socket(user, conversation)
    invalid = [
        {"type": "message", "content": ""},
        {"type": "message", "content": "x" * 4001},
        {"type": "shout", "content": "hi"},
        {"content": "hi"},
        {"message": "hi", "content": "hi"},
        {"message": ""},
        ["message"],
    ]

    errors = []
    for frame in invalid:
        await socket.send_json_to(frame)
        errors.append(await socket.receive_json_from(TIMEOUT))
    await socket.send_to(text_data="hello?")
    not_json = await socket.receive_json_from(TIMEOUT)
    gemini.stream(["Fine."])
    await say(socket, "x" * 4000)
    answered = await frames_until_final(socket)

    refusals = [assert_error_envelope(error, "validation_error") for error in errors]
    assert "content" in refusals[1]["details"]["fields"]
    assert_error_envelope(not_json, "malformed_request")
    assert answered[-1]["type"] == "ai_response"
    assert len(gemini.requests) == 1
    assert [role for role, _, _ in await stored(conversation)] == ["user", "assistant"]
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(TIMEOUT) == {"type": "pong"}
    await socket.disconnect()


async def test_other_sockets_of_conversation_receive_message_and_final_reply(user, gemini):
    conversation = await new_conversation(user)
    gemini.stream(["Rest ", "well."])
    phone = await chat_socket(user, conversation)
    tablet = await chat_socket(user, conversation)

    await say(phone, "Tired today")
    phone_frames = await frames_until_final(phone)
    tablet_frames = [
        await tablet.receive_json_from(TIMEOUT),
        await tablet.receive_json_from(TIMEOUT),
    ]

    assert [frame["type"] for frame in phone_frames] == ["ai_response.delta"] * 2 + ["ai_response"]
    assert tablet_frames[0]["type"] == "user_message"
    assert tablet_frames[0]["data"]["content"] == "Tired today"
    assert tablet_frames[1] == phone_frames[-1]
    assert await tablet.receive_nothing()
    await phone.disconnect()
    await tablet.disconnect()


async def test_socket_receives_messages_sent_over_rest(user, gemini):
    conversation = await new_conversation(user)
    gemini.stream(["From REST."])
    socket = await chat_socket(user, conversation)

    response = await database_sync_to_async(services.send_message)(
        user=user, session_id=conversation.session_id, content="Via REST"
    )

    assert (await socket.receive_json_from(TIMEOUT))["data"]["content"] == "Via REST"
    final = await socket.receive_json_from(TIMEOUT)
    assert final == {"type": "ai_response", "data": response.model_dump(mode="json")}
    await socket.disconnect()


async def test_socket_closed_4404_when_conversation_deleted(user):
    conversation = await new_conversation(user)
    socket = await chat_socket(user, conversation)

    await database_sync_to_async(services.end_conversation)(
        owner=user, session_id=conversation.session_id
    )

    assert await socket.receive_output(TIMEOUT) == closed(4404, "The conversation was ended.")
    assert not await database_sync_to_async(AIConversation.objects.exists)()


async def test_socket_reports_conversation_deleted_while_reply_was_written(user, gemini):
    conversation = await new_conversation(user)
    stream_later(gemini, ["Too ", "late."], delay=0.3)
    socket = await chat_socket(user, conversation)

    await say(socket, "Hi")
    while not gemini.requests:
        await asyncio.sleep(0.01)
    await database_sync_to_async(services.end_conversation)(
        owner=user, session_id=conversation.session_id
    )
    frames = await frames_until_final(socket)

    assert frames[-1]["type"] == "error"
    assert_error_envelope(frames[-1], "not_found")
    assert await socket.receive_output(TIMEOUT) == closed(4404, "The conversation was ended.")
    assert not await database_sync_to_async(ChatMessage.objects.exists)()


async def test_socket_reads_profile_again_for_each_message(user, gemini):
    conversation = await new_conversation(user)
    gemini.stream(["Ok."])
    socket = await chat_socket(user, conversation)
    await database_sync_to_async(User.objects.filter(pk=user.pk).update)(weight_kg=91)

    await say(socket, "Weight?")
    await frames_until_final(socket)

    assert '"weight_kg":91' in system_instruction(gemini.requests[0])
    await socket.disconnect()


async def test_socket_closes_4401_when_account_deactivated(user, gemini):
    conversation = await new_conversation(user)
    socket = await chat_socket(user, conversation)
    await database_sync_to_async(User.objects.filter(pk=user.pk).update)(is_active=False)

    await say(socket, "Still me?")

    assert await socket.receive_output(TIMEOUT) == closed(4401, "The account is no longer active.")
    assert await stored(conversation) == []


async def test_socket_records_usage_of_each_reply(user, gemini):
    conversation = await new_conversation(user)
    gemini.stream(["Ok."])
    socket = await chat_socket(user, conversation)

    await say(socket, "Hi")
    await frames_until_final(socket)

    usage = await database_sync_to_async(
        lambda: list(AIUsage.objects.values_list("endpoint", "outcome"))
    )()
    assert usage == [("chat.message", "ok")]
    await socket.disconnect()


async def test_socket_answers_depth_bomb_and_oversize_frames_and_stays_usable(user, gemini):
    conversation = await new_conversation(user)
    socket = await chat_socket(user, conversation)

    await socket.send_to(
        text_data='{"type": "message", "content": ' + "[" * 30_000 + "]" * 30_000 + "}"
    )
    too_deep = await socket.receive_json_from(TIMEOUT)
    await socket.send_to(text_data="[" * 100_000 + "]" * 100_000)
    too_large = await socket.receive_json_from(TIMEOUT)
    gemini.stream(["Still ", "here."])
    await say(socket, "Hello?")
    answered = await frames_until_final(socket)

    assert too_deep == {
        "type": "error",
        "error": {
            "code": "malformed_request",
            "message": "JSON parse error - the document is nested too deeply.",
            "details": {},
        },
    }
    assert too_large["error"]["code"] == "payload_too_large"
    assert too_large["error"]["details"] == {"max_bytes": 65536}
    assert answered[-1]["type"] == "ai_response"
    assert [role for role, _, _ in await stored(conversation)] == ["user", "assistant"]
    await socket.disconnect()
