"""What each food-log write costs in SQL statements, pinned exactly, and that the answer of
a write is the same bytes a read of the stored log gives (writes render without a re-read).

Each count includes the statement that loads the user's row (their zone, for naive times);
the atomic block shows as SAVEPOINT / RELEASE because each test runs inside a transaction."""

import uuid

import pytest
from django.db import connection

from food.models import FoodLog, FoodLogShare, FoodLogTag
from tests.factories import UserFactory, connect
from tests.food.factories import FoodLogFactory
from tests.storage.factories import stored_file

LOGS = "/api/v1/food/logs"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def payload(**overrides) -> dict:
    return {
        "name": "Oatmeal",
        "calories": 350,
        "protein": 12.5,
        "carbs": 60.257,
        "fat": 7.1,
        "timestamp": "2026-11-20T10:15:00.123456+02:00",
        "meal_type": "breakfast",
        "tags": ["home", "vegan"],
        "ai_analysis": {"zeta": 1, "alpha": [0.50, "x"]},
        **overrides,
    }


def test_create_runs_6_statements(auth_client, user, django_assert_num_queries):
    # Was 8: a savepoint (2 statements) wrapped the insert to catch a duplicate id.
    with django_assert_num_queries(6):
        response = auth_client.post(LOGS, payload(), format="json")

    assert response.status_code == 201
    assert FoodLogTag.objects.filter(food_log__owner=user).count() == 2


def test_create_with_a_client_id_a_reader_and_an_image_runs_9_statements(
    auth_client, user, other_user, django_assert_num_queries
):
    connect(user, other_user)
    image = stored_file(user)
    body = payload(id=str(uuid.uuid4()), shared_with=[str(other_user.pk)], image_id=str(image.pk))

    # Was 12: the id was looked up before the insert (now only when it did not go in).
    with django_assert_num_queries(9):
        response = auth_client.post(LOGS, body, format="json")

    assert response.status_code == 201
    assert FoodLogShare.objects.get().user_id == other_user.pk


def test_create_answers_the_bytes_a_read_of_the_stored_log_gives(auth_client, user, other_user):
    connect(user, other_user)
    image = stored_file(user)
    body = payload(id=str(uuid.uuid4()), shared_with=[str(other_user.pk)], image_id=str(image.pk))

    created = auth_client.post(LOGS, body, format="json")
    read = auth_client.get(f"{LOGS}/{body['id']}")

    assert created.status_code == 201
    assert created.content == read.content
    assert created["ETag"] == read["ETag"]


def test_replay_of_a_known_id_runs_8_statements_and_changes_nothing(
    auth_client, user, django_assert_num_queries
):
    body = payload(id=str(uuid.uuid4()))
    first = auth_client.post(LOGS, body, format="json")

    # Was 9.
    with django_assert_num_queries(8):
        again = auth_client.post(LOGS, {**body, "name": "Changed"}, format="json")

    assert again.status_code == 200
    assert again.content == first.content
    assert FoodLog.objects.get().name == "Oatmeal"


@pytest.mark.parametrize(
    ("verb", "changes", "statements"),
    [
        # Was 10: the log was read back with its tags and readers after the update.
        ("patch", {"calories": 10, "protein": 3.333}, 8),
        # Was 16: also the readers read twice and the removed ones looked for row by row.
        ("put", payload(name="Porridge", tags=["oats"]), 12),
    ],
)
def test_update_runs_pinned_statements_and_answers_what_a_read_gives(
    auth_client, user, other_user, django_assert_num_queries, verb, changes, statements
):
    connect(user, other_user)
    log_id = auth_client.post(LOGS, payload(), format="json").json()["id"]
    if verb == "put":
        changes = {**changes, "shared_with": [str(other_user.pk)]}

    with django_assert_num_queries(statements):
        written = getattr(auth_client, verb)(f"{LOGS}/{log_id}", changes, format="json")
    read = auth_client.get(f"{LOGS}/{log_id}")

    assert written.status_code == 200
    assert written.content == read.content
    assert written["ETag"] == read["ETag"]


def test_put_that_drops_a_reader_keeps_the_others_in_read_order(auth_client, user):
    readers = UserFactory.create_batch(3)
    for reader in readers:
        connect(user, reader)
    log = FoodLogFactory(owner=user)
    FoodLogShare.objects.bulk_create(FoodLogShare(food_log=log, user=r) for r in readers[:2])

    written = auth_client.put(
        f"{LOGS}/{log.pk}",
        payload(shared_with=[str(readers[2].pk), str(readers[1].pk)]),
        format="json",
    )
    read = auth_client.get(f"{LOGS}/{log.pk}")

    assert written.status_code == 200
    assert written.json()["shared_with"] == [str(readers[1].pk), str(readers[2].pk)]
    assert written.content == read.content


def test_batch_create_of_500_runs_8_statements(
    auth_client, user, other_user, django_assert_num_queries, django_assert_max_num_queries
):
    connect(user, other_user)
    items = [
        payload(id=str(uuid.uuid4()), name=f"n{n}", shared_with=[str(other_user.pk)])
        for n in range(500)
    ]
    # SQLite splits each 500-row insert by its bound-parameter limit; PostgreSQL sends one.
    # Was 11 on PostgreSQL (the ids looked up first, and a savepoint around the inserts).
    pinned = (
        django_assert_num_queries(8)
        if connection.vendor == "postgresql"
        else django_assert_max_num_queries(40)
    )
    with pinned:
        response = auth_client.post(f"{LOGS}/batch", {"items": items}, format="json")

    assert response.status_code == 201
    assert response.json()["created"] == 500
    assert FoodLogShare.objects.count() == 500


def test_batch_resent_runs_8_statements_and_counts_existing(
    auth_client, user, django_assert_num_queries, django_assert_max_num_queries
):
    items = [payload(id=str(uuid.uuid4()), name=f"n{n}") for n in range(500)]
    first = auth_client.post(f"{LOGS}/batch", {"items": items}, format="json")

    # Was 9 on PostgreSQL: the ids were looked up before the (empty) insert and its savepoint.
    pinned = (
        django_assert_num_queries(8)
        if connection.vendor == "postgresql"
        else django_assert_max_num_queries(40)
    )
    with pinned:
        again = auth_client.post(f"{LOGS}/batch", {"items": items}, format="json")

    assert again.json()["created"] == 0 and again.json()["existing"] == 500
    assert again.json()["items"] == first.json()["items"]
    assert FoodLog.objects.count() == 500
