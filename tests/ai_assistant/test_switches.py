"""The kill switches on every AI route and on the chat socket: off answers 503
`feature_disabled` and changes nothing; recommendations fall back to the rules."""

import pytest
from channels.db import database_sync_to_async

from ai_assistant.models import AIUsage, ChatMessage, RecognitionJob
from storage.models import StoredFile
from tests.ai_assistant.coach import conversation_for, message_url
from tests.ai_assistant.factories import analysis_payload
from tests.ai_assistant.test_chat_socket import TIMEOUT, chat_socket, frames_until_final, say
from tests.asserts import assert_error, assert_error_envelope
from tests.rollout.switches import set_switch
from tests.storage.factories import jpeg_bytes, upload

pytestmark = pytest.mark.django_db


def _conversation_url(user) -> str:
    return message_url(conversation_for(user).session_id)


# (feature, method, path for the user, body, multipart)
ROUTES = [
    ("ai_recognition", "/api/v1/ai/food/recognize", lambda u: {"image": upload(jpeg_bytes())}),
    ("ai_recognition", "/api/v1/food/analyze", lambda u: {"text": "two eggs"}),
    ("ai_recognition", "/api/v1/ai/food/analyze-text", lambda u: {"text": "two eggs"}),
    ("form_check", "/api/v1/workouts/form-check", lambda u: {"exercise": "squat"}),
    ("uploads", "/api/v1/storage/upload", lambda u: {"file": upload(jpeg_bytes())}),
    ("uploads", "/api/v1/storage/batch-upload", lambda u: {"files": [upload(jpeg_bytes())]}),
]


def _nothing_stored() -> dict:
    return {
        "jobs": RecognitionJob.objects.count(),
        "files": StoredFile.objects.count(),
        "messages": ChatMessage.objects.count(),
        "usage": AIUsage.objects.count(),
    }


@pytest.mark.parametrize(("feature", "path", "body"), ROUTES, ids=[r[1] for r in ROUTES])
def test_route_answers_503_feature_disabled_while_switched_off(
    auth_client, user, gemini, private_media, feature, path, body
):
    set_switch(feature, active=False)
    before = _nothing_stored()

    response = auth_client.post(path, body(user), format="multipart")

    error = assert_error(response, 503, "feature_disabled")
    assert error["details"] == {"feature": feature}
    assert _nothing_stored() == before
    assert gemini.requests == []


def test_chat_message_answers_503_while_ai_chat_off_and_stores_nothing(auth_client, user, gemini):
    url = _conversation_url(user)
    set_switch("ai_chat", active=False)

    response = auth_client.post(url, {"message": "Hi"}, format="json")

    assert_error(response, 503, "feature_disabled")
    assert ChatMessage.objects.count() == 0
    assert gemini.requests == []


def test_route_works_again_once_switched_back_on(auth_client, gemini):
    set_switch("ai_recognition", active=False)
    assert auth_client.post("/api/v1/ai/food/analyze-text", {"text": "egg"}).status_code == 503

    set_switch("ai_recognition", active=True)
    gemini.reply_json(analysis_payload(food_name="Egg"))
    response = auth_client.post("/api/v1/ai/food/analyze-text", {"text": "egg"}, format="json")

    assert response.status_code == 200
    assert response.json()["data"]["food_name"] == "Egg"


def test_other_switches_leave_a_route_alone(auth_client, gemini):
    for feature in ("ai_chat", "uploads", "form_check", "ai_recommendations"):
        set_switch(feature, active=False)
    gemini.reply_json(analysis_payload())

    response = auth_client.post("/api/v1/ai/food/analyze-text", {"text": "egg"}, format="json")

    assert response.status_code == 200


def test_recognition_by_file_id_needs_no_upload_switch_but_a_photo_sent_does(
    auth_client, user, gemini, private_media
):
    set_switch("uploads", active=False)

    response = auth_client.post(
        "/api/v1/ai/food/recognize", {"image": upload(jpeg_bytes())}, format="multipart"
    )

    error = assert_error(response, 503, "feature_disabled")
    assert error["details"] == {"feature": "uploads"}
    assert RecognitionJob.objects.count() == 0
    assert StoredFile.objects.count() == 0


@pytest.mark.parametrize("kind", ["food", "workout"])
def test_recommendations_fall_back_to_rules_while_switched_off(auth_client, gemini, kind):
    set_switch("ai_recommendations", active=False)

    response = auth_client.get(f"/api/v1/ai/recommendations/{kind}")

    assert response.status_code == 200
    assert response.json()["source"] == "rules"
    assert gemini.requests == []


@pytest.mark.django_db(transaction=True)
async def test_chat_socket_answers_feature_disabled_frame_and_stays_open(user, gemini):
    conversation = await database_sync_to_async(conversation_for)(user)
    socket = await chat_socket(user, conversation)
    await database_sync_to_async(set_switch)("ai_chat", active=False)

    await say(socket, "Hello?")
    frame = await socket.receive_json_from(TIMEOUT)

    assert frame["type"] == "error"
    assert assert_error_envelope(frame, "feature_disabled")["details"] == {"feature": "ai_chat"}
    count = await database_sync_to_async(ChatMessage.objects.count)()
    assert count == 0
    assert gemini.requests == []

    await database_sync_to_async(set_switch)("ai_chat", active=True)
    gemini.stream(["Back ", "on."])
    await say(socket, "Hello again?")
    frames = await frames_until_final(socket)
    assert frames[-1]["type"] == "ai_response"
    await socket.disconnect()
