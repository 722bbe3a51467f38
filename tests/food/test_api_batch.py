import uuid

import pytest
from django.utils import timezone

from food.models import FoodLog, FoodLogShare, FoodLogTag
from tests.asserts import assert_error
from tests.factories import connect
from tests.food.factories import FoodLogFactory

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/food/logs/batch"


def item(n: int, **overrides) -> dict:
    return {
        "id": str(uuid.UUID(int=n + 1)),
        "name": f"Item {n}",
        "calories": 100 + n,
        "protein": 1.5,
        "meal_type": "snack",
        "tags": ["batch", f"n{n % 3}"],
        **overrides,
    }


def test_batch_create_stores_all_items_in_order(auth_client, user, other_user):
    connect(user, other_user)
    items = [item(n) for n in range(3)]
    items[1]["shared_with"] = [str(other_user.pk)]
    items[2].pop("id")

    response = auth_client.post(BATCH, {"items": items}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["created"] == 3 and body["existing"] == 0
    assert [entry["name"] for entry in body["items"]] == ["Item 0", "Item 1", "Item 2"]
    assert body["items"][0]["id"] == items[0]["id"]
    assert body["items"][1]["shared_with"] == [str(other_user.pk)]
    assert body["items"][2]["tags"] == ["batch", "n2"]
    assert all(entry["user_id"] == str(user.pk) for entry in body["items"])
    assert FoodLog.objects.filter(owner=user).count() == 3


def test_batch_create_sent_twice_stores_once(auth_client, user):
    items = [item(n) for n in range(4)]
    first = auth_client.post(BATCH, {"items": items}, format="json")

    retry = auth_client.post(BATCH, {"items": items}, format="json")

    assert retry.status_code == 201
    assert retry.json()["created"] == 0 and retry.json()["existing"] == 4
    assert retry.json()["items"] == first.json()["items"]
    assert FoodLog.objects.count() == 4
    assert FoodLogTag.objects.count() == 8


def test_batch_create_mixes_new_and_already_stored_items(auth_client, user):
    stored = FoodLogFactory(owner=user, name="Stored")
    items = [item(0), {**item(1), "id": str(stored.pk), "name": "Resent"}]

    body = auth_client.post(BATCH, {"items": items}, format="json").json()

    assert body["created"] == 1 and body["existing"] == 1
    assert body["items"][1]["name"] == "Stored"


def test_batch_create_answers_400_per_index_and_stores_nothing(auth_client):
    items = [item(0), item(1, calories=-1), item(2), item(3, meal_type="brunch", name="")]

    response = auth_client.post(BATCH, {"items": items}, format="json")

    error = assert_error(response, 400, "validation_error")
    per_index = error["details"]["fields"]["items"]
    assert set(per_index) == {"1", "3"}
    assert "calories" in per_index["1"]
    assert {"meal_type", "name"} <= set(per_index["3"])
    assert FoodLog.objects.count() == 0


def test_batch_create_answers_400_for_repeated_id_within_batch(auth_client):
    items = [item(0), item(1), {**item(2), "id": item(0)["id"]}]

    response = auth_client.post(BATCH, {"items": items}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]["fields"]["items"]) == {"2"}
    assert FoodLog.objects.count() == 0


def test_batch_create_answers_400_for_unknown_reader_and_stores_nothing(auth_client):
    items = [item(0), item(1, shared_with=[str(uuid.uuid4())])]

    response = auth_client.post(BATCH, {"items": items}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]["fields"]["items"]) == {"1"}
    assert "shared_with" in error["details"]["fields"]["items"]["1"]
    assert FoodLog.objects.count() == 0 and FoodLogShare.objects.count() == 0


def test_batch_create_answers_409_when_an_id_is_someone_elses(auth_client, other_user):
    foreign = FoodLogFactory(owner=other_user, name="Theirs")
    items = [item(0), {**item(1), "id": str(foreign.pk)}]

    response = auth_client.post(BATCH, {"items": items}, format="json")

    error = assert_error(response, 409, "id_conflict")
    assert error["details"] == {"indexes": [1]}
    assert "Theirs" not in response.content.decode()
    assert FoodLog.objects.count() == 1


def test_batch_create_answers_410_when_an_id_was_deleted(auth_client, user):
    tombstone = FoodLogFactory(owner=user, deleted_at=timezone.now())
    items = [{**item(0), "id": str(tombstone.pk)}, item(1)]

    response = auth_client.post(BATCH, {"items": items}, format="json")

    error = assert_error(response, 410, "id_deleted")
    assert error["details"] == {"indexes": [0]}
    assert FoodLog.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": "nope"},
        {},
        {"items": [item(0)], "extra": True},
        {"items": [item(0), "not an object"]},
        [item(0)],
    ],
)
def test_batch_create_answers_400_for_malformed_body(auth_client, body):
    response = auth_client.post(BATCH, body, format="json")

    assert_error(response, 400, "validation_error")
    assert FoodLog.objects.count() == 0


def test_batch_create_answers_400_for_more_than_500_items(auth_client):
    items = [{"name": "x", "calories": 1}] * 501

    response = auth_client.post(BATCH, {"items": items}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert "items" in error["details"]["fields"]
    assert FoodLog.objects.count() == 0


def test_batch_create_of_500_uses_bounded_queries(
    auth_client, user, other_user, django_assert_max_num_queries
):
    connect(user, other_user)
    items = [item(n, shared_with=[str(other_user.pk)]) for n in range(500)]

    # SQLite splits a 500-row insert by its bound-parameter limit; PostgreSQL sends one.
    with django_assert_max_num_queries(30):
        response = auth_client.post(BATCH, {"items": items}, format="json")

    assert response.status_code == 201
    assert response.json()["created"] == 500
    assert FoodLog.objects.filter(owner=user).count() == 500
    assert FoodLogTag.objects.count() == 1000
    assert FoodLogShare.objects.count() == 500


def test_batch_delete_deletes_own_logs_and_skips_others(auth_client, user, other_user):
    mine = FoodLogFactory.create_batch(3, owner=user)
    theirs = FoodLogFactory(owner=other_user)
    already = FoodLogFactory(owner=user, deleted_at=timezone.now())
    ids = [str(log.pk) for log in [*mine[:2], theirs, already]] + [str(uuid.uuid4())]

    response = auth_client.delete(BATCH, {"ids": ids}, format="json")

    assert response.status_code == 200
    assert response.json() == {"deleted": 2}
    assert FoodLog.objects.for_owner(user).get() == mine[2]
    theirs.refresh_from_db()
    assert theirs.deleted_at is None
    assert FoodLog.objects.count() == 5


def test_batch_delete_sent_twice_deletes_nothing_more(auth_client, user):
    logs = FoodLogFactory.create_batch(2, owner=user)
    ids = [str(log.pk) for log in logs]
    auth_client.delete(BATCH, {"ids": ids}, format="json")

    response = auth_client.delete(BATCH, {"ids": ids}, format="json")

    assert response.json() == {"deleted": 0}


@pytest.mark.parametrize(
    "body", [{"ids": []}, {"ids": ["nope"]}, {"ids": [str(uuid.uuid4())] * 501}, {}]
)
def test_batch_delete_answers_400_for_invalid_ids(auth_client, user, body):
    log = FoodLogFactory(owner=user)

    response = auth_client.delete(BATCH, body, format="json")

    assert_error(response, 400, "validation_error")
    log.refresh_from_db()
    assert log.deleted_at is None
