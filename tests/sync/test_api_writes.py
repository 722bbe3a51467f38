"""The API's creates and edits (which write without save(), see fitness.inserts) still reach
other devices: the triggers stamp the rows for the next pull, and `sync.changed` goes to the
owner and every reader after commit, to no one when the write is refused."""

import uuid

import pytest

from tests.conftest import client_for
from tests.factories import UserFactory, connect
from tests.food.factories import FoodLogFactory
from tests.sync.helpers import Listener, Replica
from tests.workouts.factories import workout_payload

pytestmark = pytest.mark.django_db(transaction=True)

LOGS = "/api/v1/food/logs"
WORKOUTS = "/api/v1/workouts"


def assert_quiet(events: Listener) -> None:
    assert events.next(timeout=0.3) is None


def test_api_creates_and_edits_reach_the_next_incremental_pull(auth_client, user):
    device = Replica()
    device.sync(auth_client)
    log_id = auth_client.post(LOGS, {"name": "Tea", "calories": 1}, format="json").json()["id"]
    workout = auth_client.post(WORKOUTS, workout_payload(id=str(uuid.uuid4())), format="json")
    workout_id = workout.json()["workout"]["id"]

    created = device.sync(auth_client)
    auth_client.patch(f"{LOGS}/{log_id}", {"name": "Green tea"}, format="json")
    auth_client.patch(f"{WORKOUTS}/{workout_id}", {"notes": "easy"}, format="json")
    edited = device.sync(auth_client)

    # An incremental pull sends new rows as updated (WatermelonDB's rule).
    assert [r["id"] for r in created["changes"]["food_logs"]["updated"]] == [log_id]
    assert [r["id"] for r in created["changes"]["workouts"]["updated"]] == [workout_id]
    assert len(created["changes"]["exercises"]["updated"]) == 2
    assert [r["name"] for r in edited["changes"]["food_logs"]["updated"]] == ["Green tea"]
    assert [r["notes"] for r in edited["changes"]["workouts"]["updated"]] == ["easy"]


def test_a_new_shared_workout_is_news_for_its_owner_and_reader_only(auth_client, user, other_user):
    connect(user, other_user)
    mine, reader, outsider = Listener(user), Listener(other_user), Listener(UserFactory())

    response = auth_client.post(
        WORKOUTS, workout_payload(shared_with=[str(other_user.pk)]), format="json"
    )

    assert response.status_code == 201
    assert "workouts" in mine.next()["tables"]
    assert "workouts" in reader.next()["tables"]
    assert_quiet(outsider)


def test_an_edited_log_is_news_for_its_readers_and_a_dropped_one(auth_client, user, other_user):
    kept, dropped = other_user, UserFactory()
    connect(user, kept)
    connect(user, dropped)
    log_id = auth_client.post(
        LOGS,
        {"name": "Tea", "calories": 1, "shared_with": [str(kept.pk), str(dropped.pk)]},
        format="json",
    ).json()["id"]
    events = [Listener(user), Listener(kept), Listener(dropped)]

    response = auth_client.patch(f"{LOGS}/{log_id}", {"shared_with": [str(kept.pk)]}, format="json")

    assert response.status_code == 200
    assert [listener.next()["tables"] for listener in events] == [["food_logs"]] * 3
    assert client_for(dropped).get(f"{LOGS}/{log_id}").status_code == 404


def test_a_refused_create_tells_nobody_and_stores_nothing(auth_client, user, other_user):
    foreign = FoodLogFactory(owner=other_user)
    events = Listener(user)
    items = [{"id": str(uuid.uuid4()), "name": "new", "calories": 1}]
    items.append({"id": str(foreign.pk), "name": "theirs", "calories": 1})

    response = auth_client.post(f"{LOGS}/batch", {"items": items}, format="json")

    assert response.status_code == 409
    assert auth_client.get(f"{LOGS}/{items[0]['id']}").status_code == 404
    assert_quiet(events)
