"""clients/asyncapi.yaml: well formed, and it means what the server does.

Every frame the socket tests receive is checked against it as it arrives (tests/conftest.py,
tests/frames.py); these tests check the document itself and the frames clients send.
"""

import pytest
from jsonschema import Draft7Validator

from ai_assistant.chat.api.serializers import ChatSocketFrameSerializer
from tests import frames

pytestmark = pytest.mark.django_db


def test_every_reference_resolves_and_every_payload_is_a_json_schema():
    document = frames.document()
    assert document["asyncapi"].startswith("3.")
    for name, operation in document["operations"].items():
        channel, _ = frames.resolve(operation["channel"])
        assert channel["address"].startswith("/ws/"), name
        for reference in operation["messages"]:
            message, pointer = frames.resolve(reference)
            Draft7Validator.check_schema(message["payload"])
            # Validating anything follows every $ref in the payload: a dangling one raises.
            frames.validator(f"{pointer}/payload").is_valid({"type": "?"})


def test_each_socket_documents_what_it_sends_and_takes():
    assert set(frames.messages("events", "send")) == {
        "connected",
        "pong",
        "error",
        "job.finished",
        "sync.changed",
        "group.member_joined",
        "group.member_left",
        "group.updated",
        "group.invited",
        "challenge.created",
        "challenge.leaderboard",
        "connection.requested",
        "connection.accepted",
    }
    assert set(frames.messages("events", "receive")) == {"ping"}
    assert set(frames.messages("chat", "send")) == {
        "connected",
        "pong",
        "error",
        "ai_response.delta",
        "ai_response",
        "user_message",
    }
    assert set(frames.messages("chat", "receive")) == {"message", "ping"}


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "connected"},
        {"type": "connected", "user_id": "not-a-uuid"},
        {"type": "connected", "user_id": "5d1e7f4c-8c46-4f43-9d7a-2c1f9d1f0a11", "extra": 1},
        {"type": "shout"},
        {"type": "error", "error": {"code": "not_found"}},
    ],
)
def test_an_undocumented_server_frame_fails_the_check(frame):
    with pytest.raises(AssertionError):
        frames.check_server_frame("/ws/events/", frame)


@pytest.mark.parametrize(
    ("frame", "valid"),
    [
        ({"type": "message", "content": "Any tips?"}, True),
        ({"message": "Any tips?"}, True),
        ({"type": "message", "message": "Any tips?"}, True),
        ({"type": "ping"}, True),
        ({"content": "no type"}, False),
        ({"type": "message", "content": "both", "message": "both"}, False),
        ({"type": "message", "content": ""}, False),
        ({"message": "x" * 4001}, False),
        ({"type": "shout", "content": "hi"}, False),
    ],
)
def test_chat_client_frames_the_document_allows_are_those_the_server_takes(frame, valid):
    assert (frames.client_frame_problems("chat", frame) == []) is valid
    if frame.get("type") != "ping":
        assert ChatSocketFrameSerializer(data=frame).is_valid() is valid
