"""The lists' `total` read from the trigger-maintained count (fitness.live_counts) stays
equal to the count of the user's live rows, whoever writes them and however."""

import uuid

import pytest
from django.db import connection
from django.utils import timezone

from accounts.services import erase_account
from fitness.models import LiveRowCount
from food.models import FoodLog
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.food.factories import FoodLogFactory
from tests.workouts.factories import create_workout, workout_payload
from workouts.models import Workout

pytestmark = pytest.mark.django_db

LOGS = "/api/v1/food/logs"
WORKOUTS = "/api/v1/workouts"


def _food_total(client) -> int:
    response = client.get(LOGS, {"page_size": 1})
    assert response.status_code == 200
    return response.json()["total"]


def _workout_total(client) -> int:
    response = client.get(WORKOUTS, {"page_size": 1})
    assert response.status_code == 200
    return response.json()["total"]


def _stored(user) -> tuple[int, int]:
    row = LiveRowCount.objects.filter(user=user).first()
    return (row.food_logs, row.workouts) if row else (0, 0)


def _log(n: int) -> dict:
    return {"id": str(uuid.uuid4()), "name": f"Item {n}", "calories": 100 + n}


def test_food_log_total_follows_creates_batches_deletes_and_restores(user, other_user):
    client = client_for(user)
    FoodLogFactory.create_batch(2, owner=other_user)
    assert _food_total(client) == 0

    assert client.post(LOGS, _log(0), format="json").status_code == 201
    items = [_log(n) for n in range(1, 6)]
    assert client.post(f"{LOGS}/batch", {"items": items}, format="json").status_code == 201
    # Sent again (a retry), with one new item: the five are stored once, so counted once.
    again = client.post(f"{LOGS}/batch", {"items": [*items, _log(6)]}, format="json")
    assert again.status_code in (200, 201)
    assert _food_total(client) == 7

    victim = FoodLog.objects.filter(owner=user).first()
    assert client.delete(f"{LOGS}/{victim.pk}").status_code == 204
    assert _food_total(client) == 6
    # A tombstone edited counts nothing more.
    FoodLog.objects.filter(pk=victim.pk).update(name="still gone")
    assert _food_total(client) == 6

    FoodLog.objects.filter(pk=victim.pk).update(deleted_at=None)
    assert _food_total(client) == 7
    FoodLog.objects.filter(owner=user).update(deleted_at=timezone.now())
    assert _food_total(client) == 0
    FoodLog.objects.filter(owner=user).delete()
    assert _food_total(client) == 0

    assert _food_total(client_for(other_user)) == 2
    assert _stored(other_user)[0] == 2


def test_food_log_total_follows_hard_deletes_and_owner_changes(user, other_user):
    logs = FoodLogFactory.create_batch(3, owner=user)
    FoodLog.objects.filter(pk=logs[0].pk).delete()
    FoodLog.objects.filter(pk=logs[1].pk).update(owner=other_user)
    assert _food_total(client_for(user)) == 1
    assert _food_total(client_for(other_user)) == 1
    assert _stored(user)[0] == FoodLog.objects.for_owner(user).count()


def test_filtered_food_log_lists_still_count_what_they_show(auth_client, user):
    FoodLogFactory.create_batch(2, owner=user, meal_type="lunch")
    FoodLogFactory.create(owner=user, meal_type="dinner")
    response = auth_client.get(LOGS, {"meal_type": "lunch"})
    assert response.json()["total"] == 2
    assert _food_total(auth_client) == 3


def test_past_the_last_page_the_total_is_the_maintained_count(auth_client, user):
    FoodLogFactory.create_batch(3, owner=user)
    response = auth_client.get(LOGS, {"page": 5, "page_size": 2})
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["total"] == 3


def test_workout_total_follows_creates_deletes_and_restores(user):
    client = client_for(user)
    ids = []
    for _ in range(3):
        response = client.post(WORKOUTS, workout_payload(), format="json")
        assert response.status_code == 201
        ids.append(response.json()["workout"]["id"])
    create_workout(user)
    assert _workout_total(client) == 4

    assert client.delete(f"{WORKOUTS}/{ids[0]}").status_code == 204
    assert _workout_total(client) == 3
    Workout.objects.filter(pk=ids[0]).update(deleted_at=None)
    assert _workout_total(client) == 4
    # completed=false is a filter: it counts what it shows, not everything.
    Workout.objects.filter(pk=ids[1]).update(completed=True)
    filtered = client.get(WORKOUTS, {"completed": "false"}).json()["total"]
    assert filtered == Workout.objects.for_owner(user).filter(completed=False).count()
    assert _stored(user)[1] == Workout.objects.for_owner(user).count() == 4


def test_erasing_a_user_leaves_no_count_and_commits(user):
    FoodLogFactory.create_batch(3, owner=user)
    create_workout(user)
    other = UserFactory()
    FoodLogFactory.create(owner=other)
    erase_account(user=user)
    # The foreign keys are checked at commit: a counter row re-created for the deleted
    # user by a decrement would fail here.
    connection.check_constraints()
    assert not LiveRowCount.objects.filter(user_id=user.pk).exists()
    assert _stored(other) == (1, 0)
