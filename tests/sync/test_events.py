"""`sync.changed` on /ws/events/: after commit, once per user and transaction, to everyone
who can read the changed rows (read off the channel layer: Redis when REDIS_URL is set).
The writes commit for real, as they do in production."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from accounts import tokens
from ai_assistant.models import ChatMessage
from fitness import offline
from fitness.asgi import application
from fitness.offline import held_change_events
from food.models import FoodLog
from tests.ai_assistant.coach import conversation_for
from tests.factories import UserFactory, connect
from tests.food.factories import FoodLogFactory
from tests.sync.helpers import Listener, push
from tests.workouts.factories import create_workout
from workouts import services as workout_services

pytestmark = pytest.mark.django_db(transaction=True)

BATCH = "/api/v1/food/logs/batch"


def assert_quiet(events: Listener) -> None:
    assert events.next(timeout=0.3) is None


def test_a_batch_of_500_logs_is_one_event(auth_client, user):
    events = Listener(user)
    items = [{"name": f"log {n}", "calories": n} for n in range(500)]

    response = auth_client.post(BATCH, {"items": items}, format="json")

    assert response.status_code == 201
    event = events.next()
    assert event["type"] == "sync.changed"
    assert event["tables"] == ["food_logs"]
    assert isinstance(event["timestamp"], int)
    assert_quiet(events)


def test_readers_of_a_changed_workout_are_told_and_strangers_are_not(user, other_user):
    connect(user, other_user)
    stranger = UserFactory()
    workout = create_workout(user, shared_with=[str(other_user.pk)])
    mine, reader, outsider = Listener(user), Listener(other_user), Listener(stranger)

    workout_services.update_workout(owner=user, workout_id=workout.pk, data={"name": "B"})

    assert "workouts" in mine.next()["tables"]
    assert "workouts" in reader.next()["tables"]
    assert_quiet(outsider)


def test_an_unshared_log_is_news_for_its_owner_only(user, other_user):
    connect(user, other_user)
    log = FoodLogFactory(owner=user)
    mine, connection = Listener(user), Listener(other_user)

    log.name = "private"
    log.save()

    assert mine.next()["tables"] == ["food_logs"]
    assert_quiet(connection)


def test_a_message_saved_by_conversation_id_is_news_for_the_conversation_owner(user, other_user):
    # The chat's reply is stored so (by id, the conversation not loaded): the owner is
    # looked up, not read off the row.
    conversation = conversation_for(user)
    mine, theirs = Listener(user), Listener(other_user)

    ChatMessage.objects.create(conversation_id=conversation.pk, role="assistant", content="Hi")

    assert mine.next()["tables"] == ["chat_messages"]
    assert_quiet(theirs)


def test_a_sync_push_is_one_event(auth_client, user):
    events = Listener(user)
    record = {"id": "7d7f1e5a-1f0b-4c55-9d8e-6f7a0b3c2d1e", "name": "Tea", "calories": 1}
    second = {**record, "id": "0b0e6d7c-4a5b-4c3d-8e9f-1a2b3c4d5e6f"}

    response = push(auth_client, 1, {"food_logs": {"created": [record, second]}})

    assert response.status_code == 200
    assert events.next()["tables"] == ["food_logs"]
    assert_quiet(events)


def test_nothing_is_sent_when_the_write_rolls_back(user):
    events = Listener(user)

    with pytest.raises(RuntimeError), transaction.atomic():
        FoodLog.objects.create(owner=user, name="x", calories=1)
        raise RuntimeError

    assert_quiet(events)


async def test_the_events_socket_of_another_device_hears_the_change():
    user = await database_sync_to_async(UserFactory)()
    pair = await database_sync_to_async(tokens.issue_pair)(user)
    socket = WebsocketCommunicator(application, f"/ws/events/?token={pair['access_token']}")
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from(timeout=5))["type"] == "connected"

    await database_sync_to_async(FoodLogFactory)(owner=user)

    event = await socket.receive_json_from(timeout=5)
    assert event["type"] == "sync.changed" and event["tables"] == ["food_logs"]
    await socket.disconnect()


@pytest.fixture
def told(monkeypatch):
    """The events sent, as (user id, tables), in order."""
    sent = []

    def send(user_id, kind, data):
        sent.append((user_id, data["tables"]))

    monkeypatch.setattr(offline, "send_user_event", send)
    return sent


def test_held_events_go_out_when_the_holder_sends_them(user, told):
    with held_change_events() as held:
        FoodLogFactory(owner=user)
    assert told == []

    held.send()
    held.send()

    assert told == [(user.pk, ["food_logs"])]


def test_held_events_of_a_failed_write_are_never_sent(user, told):
    with pytest.raises(FoodLog.DoesNotExist), held_change_events() as held, transaction.atomic():
        FoodLogFactory(owner=user)
        FoodLog.objects.get(name="no such log")
    held.send()

    assert told == []


def test_held_events_inside_an_outer_transaction_wait_for_its_commit(user, told):
    with transaction.atomic():
        with held_change_events() as held:
            FoodLogFactory(owner=user)
        held.send()
        assert told == []

    assert told == [(user.pk, ["food_logs"])]
