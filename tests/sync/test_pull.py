import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from accounts import tokens
from fitness.asgi import application
from food.models import FoodLog, FoodLogTag
from social import services as social_services
from social.models import Challenge
from storage import services as storage_services
from sync import selectors
from sync.api import views
from tests.conftest import client_for
from tests.factories import UserFactory, connect
from tests.food.factories import FoodLogFactory, FoodLogShareFactory
from tests.social.conftest import add, make_group
from tests.storage.factories import stored_file
from tests.sync.helpers import URL, Replica, body, pull
from tests.workouts.factories import create_workout, exercise_payload
from workouts import services as workout_services
from workouts.models import Workout, WorkoutPhoto, WorkoutShare

# Markers are transaction ids: incremental pulls are only meaningful across real commits.
committed = pytest.mark.django_db(transaction=True)

TABLES = {
    "food_logs",
    "workouts",
    "exercises",
    "set_logs",
    "workout_progress",
    "stored_files",
    "conversations",
    "chat_messages",
    "profile",
    "settings",
    "connections",
    "groups",
    "group_members",
    "challenges",
}


@pytest.mark.parametrize("first", [None, "", "null", "0"])
def test_first_pull_sends_every_live_row_as_created(auth_client, user, first):
    user.birthday = date(1990, 5, 17)
    user.save()
    log = FoodLogFactory(owner=user, name="Oats", calories=300)
    FoodLogFactory(owner=user, deleted_at=timezone.now())
    workout = create_workout(user)

    query = {} if first is None else {"last_pulled_at": first}
    response = auth_client.get(URL, query)

    assert response.status_code == 200
    pulled = body(response)
    assert set(pulled["changes"]) == TABLES
    assert isinstance(pulled["timestamp"], int) and pulled["timestamp"] > 0
    logs = pulled["changes"]["food_logs"]
    assert [record["id"] for record in logs["created"]] == [str(log.pk)]
    assert logs["updated"] == [] and logs["deleted"] == []
    record = logs["created"][0]
    assert record["name"] == "Oats" and record["calories"] == 300
    assert record["timestamp"] == int(log.timestamp.timestamp() * 1000)
    assert record["tags"] == "[]"
    assert [w["id"] for w in pulled["changes"]["workouts"]["created"]] == [str(workout.pk)]
    exercises = pulled["changes"]["exercises"]["created"]
    assert {e["workout_id"] for e in exercises} == {str(workout.pk)}
    assert sorted(e["name"] for e in exercises) == ["Bench press", "Dips"]
    profile = pulled["changes"]["profile"]["created"][0]
    assert profile["id"] == str(user.pk)
    assert profile["birthday"] == int(datetime(1990, 5, 17, tzinfo=UTC).timestamp() * 1000)
    assert pulled["changes"]["settings"]["created"][0]["theme_mode"] == user.theme_mode


@committed
def test_incremental_pull_sends_only_changes_and_deletions(auth_client, user):
    kept = FoodLogFactory(owner=user)
    doomed = FoodLogFactory(owner=user)
    device = Replica()
    device.sync(auth_client)

    edited = FoodLogFactory(owner=user)
    doomed.deleted_at = timezone.now()
    doomed.save()
    pulled = device.sync(auth_client)

    logs = pulled["changes"]["food_logs"]
    assert logs["created"] == []
    assert [record["id"] for record in logs["updated"]] == [str(edited.pk)]
    assert logs["deleted"] == [str(doomed.pk)]
    assert device.ids("food_logs") == {str(kept.pk), str(edited.pk)}


@committed
def test_incremental_pull_with_nothing_changed_is_empty(auth_client, user):
    FoodLogFactory(owner=user)
    create_workout(user)
    device = Replica()
    device.sync(auth_client)

    pulled = device.sync(auth_client)

    for table in TABLES - {"profile", "settings"}:
        assert pulled["changes"][table] == {"created": [], "updated": [], "deleted": []}, table


@committed
def test_incremental_pull_runs_a_bounded_number_of_queries(
    auth_client, user, django_assert_max_num_queries
):
    for _ in range(30):
        FoodLogFactory(owner=user)
    for _ in range(5):
        create_workout(user)
    device = Replica()
    device.sync(auth_client)
    for log in FoodLog.objects.all()[:10]:
        log.name = "edited"
        log.save()

    with django_assert_max_num_queries(20):
        pulled = device.sync(auth_client)

    assert len(pulled["changes"]["food_logs"]["updated"]) == 10


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite reads each list with a query of its own"
)
@committed
def test_an_incremental_pull_reads_each_table_with_its_lists_in_one_statement(
    user, other_user, django_assert_num_queries
):
    logs = FoodLogFactory.create_batch(3, owner=user)
    for log in logs:
        FoodLogTag.objects.create(food_log=log, name="oats")
        FoodLogShareFactory(food_log=log, user=other_user)
    doomed = FoodLogFactory(owner=user)
    pictured, shared = create_workout(user), create_workout(user)
    photo = stored_file(user)
    WorkoutPhoto.objects.create(workout=pictured, file=photo, position=0)
    WorkoutShare.objects.create(workout=shared, user=other_user)
    since = selectors.pull_changes(
        user=user, last_pulled_at=None, migration=selectors.Migration()
    ).timestamp
    FoodLog.objects.filter(pk__in=[log.pk for log in logs]).update(name="Edited")
    Workout.objects.filter(pk__in=[pictured.pk, shared.pk]).update(notes="Edited")
    FoodLog.objects.filter(pk=doomed.pk).delete()

    # The cut-off (2) and the horizon, the tombstones, a statement per table (14) and the
    # check that the deleted log is not still readable: no query per list or chunk.
    with django_assert_num_queries(19):
        pull = selectors.pull_changes(
            user=user, last_pulled_at=since, migration=selectors.Migration()
        )
        changes = json.loads(b"".join(pull.chunks()))["changes"]

    updated = changes["food_logs"]["updated"]
    assert sorted(record["id"] for record in updated) == sorted(str(log.pk) for log in logs)
    assert {(record["tags"], record["shared_with"]) for record in updated} == {
        ('["oats"]', f'["{other_user.pk}"]')
    }
    assert changes["food_logs"]["deleted"] == [str(doomed.pk)]
    workouts = {record["id"]: record for record in changes["workouts"]["updated"]}
    assert workouts[str(pictured.pk)]["progress_photo_ids"] == f'["{photo.pk}"]'
    assert workouts[str(shared.pk)]["shared_with"] == f'["{other_user.pk}"]'


@committed
def test_a_table_longer_than_a_chunk_comes_whole_in_key_order(auth_client, user, monkeypatch):
    monkeypatch.setattr(selectors, "CHUNK_SIZE", 2)
    logs = sorted((FoodLogFactory(owner=user) for _ in range(5)), key=lambda log: str(log.pk))
    device = Replica()

    first = device.sync(auth_client)
    for log in logs[:3]:
        log.name = "edited"
        log.save()
    pulled = device.sync(auth_client)

    created = first["changes"]["food_logs"]["created"]
    assert [r["id"] for r in created] == [str(log.pk) for log in logs]
    updated = pulled["changes"]["food_logs"]["updated"]
    assert [r["id"] for r in updated] == [str(log.pk) for log in logs[:3]]
    assert {r["name"] for r in updated} == {"edited"}


@committed
def test_pulls_of_two_users_in_turn_each_see_only_their_own_rows(
    auth_client, user, other_client, other_user
):
    clients = {user: auth_client, other_user: other_client}
    devices = {who: Replica() for who in clients}
    logs = {who: FoodLogFactory(owner=who) for who in clients}
    workouts = {who: create_workout(who) for who in clients}
    for who, client in clients.items():
        devices[who].sync(client)
    for who in clients:
        logs[who].name = "edited"
        logs[who].save()
        workout_services.update_workout(
            owner=who,
            workout_id=workouts[who].pk,
            data={"exercises": [exercise_payload("Rows", sets=3, reps=8)]},
        )

    for who, client in clients.items():
        changes = devices[who].sync(client)["changes"]
        assert [r["id"] for r in changes["food_logs"]["updated"]] == [str(logs[who].pk)]
        assert [r["id"] for r in changes["workouts"]["updated"]] == [str(workouts[who].pk)]
        assert {r["workout_id"] for r in changes["exercises"]["updated"]} == {str(workouts[who].pk)}
        assert len(changes["exercises"]["deleted"]) == 2
        assert devices[who].ids("food_logs") == {str(logs[who].pk)}
        assert devices[who].ids("workouts") == {str(workouts[who].pk)}


def test_pull_never_shows_another_users_rows(auth_client, user, other_user):
    FoodLogFactory(owner=other_user)
    create_workout(other_user)
    mine = FoodLogFactory(owner=user)

    pulled = pull(auth_client)

    assert [r["id"] for r in pulled["changes"]["food_logs"]["created"]] == [str(mine.pk)]
    for table in TABLES - {"food_logs", "profile", "settings"}:
        assert pulled["changes"][table]["created"] == [], table
    assert pulled["changes"]["profile"]["created"][0]["id"] == str(user.pk)


@committed
def test_shared_rows_arrive_and_leave_as_deleted_when_the_share_ends(auth_client, user, other_user):
    connect(user, other_user)
    theirs = FoodLogFactory(owner=other_user)
    device = Replica()
    device.sync(auth_client)
    assert device.ids("food_logs") == set()

    share = FoodLogShareFactory(food_log=theirs, user=user)
    pulled = device.sync(auth_client)
    assert [r["id"] for r in pulled["changes"]["food_logs"]["updated"]] == [str(theirs.pk)]
    assert pulled["changes"]["food_logs"]["updated"][0]["shared_with"] == f'["{user.pk}"]'

    share.delete()
    pulled = device.sync(auth_client)
    assert pulled["changes"]["food_logs"]["deleted"] == [str(theirs.pk)]
    assert device.ids("food_logs") == set()


@committed
def test_shared_workout_brings_its_exercises_and_takes_them_away(auth_client, user, other_user):
    connect(user, other_user)
    theirs = create_workout(other_user)
    device = Replica()
    device.sync(auth_client)

    workout_services.update_workout(
        owner=other_user, workout_id=theirs.pk, data={"shared_with": [user.pk]}
    )
    device.sync(auth_client)
    assert device.ids("workouts") == {str(theirs.pk)}
    assert len(device.ids("exercises")) == 2

    workout_services.update_workout(
        owner=other_user, workout_id=theirs.pk, data={"shared_with": []}
    )
    device.sync(auth_client)
    assert device.ids("workouts") == set()
    assert device.ids("exercises") == set()


@committed
def test_a_deleted_workout_takes_its_exercises_sets_and_progress_with_it(auth_client, user):
    logs = [{"reps": 5, "weight": {"value": 100, "unit": "kg"}}, {"reps": 3}]
    workout = create_workout(user, exercises=[exercise_payload("Squat", set_logs=logs)])
    workout_services.record_progress(owner=user, workout_id=workout.pk, exercises=[], sets=[])
    kept = create_workout(user)
    device = Replica()
    device.sync(auth_client)
    assert len(device.ids("set_logs")) == 2 and len(device.ids("workout_progress")) == 1

    workout_services.delete_workout(owner=user, workout_id=workout.pk)
    pulled = device.sync(auth_client)

    changes = pulled["changes"]
    assert changes["workouts"]["deleted"] == [str(workout.pk)]
    assert sorted(changes["exercises"]["deleted"]) == sorted(
        str(pk) for pk in workout.exercises.values_list("pk", flat=True)
    )
    assert len(changes["set_logs"]["deleted"]) == 2
    assert len(changes["workout_progress"]["deleted"]) == 1
    assert device.ids("workouts") == {str(kept.pk)}
    assert device.ids("exercises") == {
        str(pk) for pk in kept.exercises.values_list("pk", flat=True)
    }
    assert device.ids("set_logs") == set() and device.ids("workout_progress") == set()


@committed
def test_edit_that_replaces_exercises_never_sends_an_id_twice(auth_client, user):
    workout = create_workout(user)
    device = Replica()
    device.sync(auth_client)
    kept = workout.exercises.order_by("position").first()

    workout_services.update_workout(
        owner=user,
        workout_id=workout.pk,
        data={"exercises": [{"id": kept.pk, "name": "Bench", "sets": 3, "reps": 5}]},
    )
    pulled = device.sync(auth_client)

    exercises = pulled["changes"]["exercises"]
    sent = [r["id"] for r in exercises["updated"]] + exercises["deleted"]
    assert len(sent) == len(set(sent))
    assert [r["id"] for r in exercises["updated"]] == [str(kept.pk)]
    assert len(exercises["deleted"]) == 1
    assert device.ids("exercises") == {str(kept.pk)}


def test_pull_is_gzipped_when_the_client_accepts_it(auth_client, user):
    FoodLogFactory(owner=user)

    response = auth_client.get(URL, HTTP_ACCEPT_ENCODING="gzip, deflate")

    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert len(body(response)["changes"]["food_logs"]["created"]) == 1


@committed
def test_migration_sends_full_rows_of_the_tables_a_client_gained(auth_client, user):
    log = FoodLogFactory(owner=user)
    device = Replica()
    device.sync(auth_client)

    migration = '{"from": 1, "tables": ["food_logs"], "columns": []}'
    pulled = pull(auth_client, device.last_pulled_at, schema_version=2, migration=migration)

    assert [r["id"] for r in pulled["changes"]["food_logs"]["created"]] == [str(log.pk)]
    assert pulled["changes"]["workouts"]["updated"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"last_pulled_at": "yesterday"},
        {"last_pulled_at": "-1"},
        {"migration": "{not json"},
        {"migration": '{"tables": ["passwords"]}'},
    ],
)
def test_pull_with_bad_parameters_is_400(auth_client, user, query):
    response = auth_client.get(URL, query)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_pull_needs_authentication(api_client):
    response = api_client.get(URL)

    assert response.status_code == 401


@committed
def test_stored_files_arrive_with_signed_urls_and_leave_when_deleted(auth_client, user):
    stored = stored_file(user, tags=["meal"])
    device = Replica()
    device.sync(auth_client)
    record = device.tables["stored_files"][str(stored.pk)]
    assert record["url"] and record["thumbnail_url"]
    assert record["tags"] == '["meal"]' and record["content_type"] == stored.content_type

    storage_services.delete_file(owner=user, file_id=stored.pk)
    pulled = device.sync(auth_client)

    assert pulled["changes"]["stored_files"]["deleted"] == [str(stored.pk)]


@committed
async def test_pull_streams_through_the_asgi_application():
    user = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(FoodLogFactory)(owner=user, name="Streamed")
    token = (await database_sync_to_async(tokens.issue_pair)(user))["access_token"]
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(
            URL,
            params={"last_pulled_at": "null"},
            headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
        )

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    logs = response.json()["changes"]["food_logs"]["created"]
    assert [log["name"] for log in logs] == ["Streamed"]


async def _asgi_pull(token: str, **headers) -> tuple[httpx.Response, int]:
    """The response to a first pull through the ASGI application, and how many body
    messages it was sent in."""
    bodies = 0

    async def app(scope, receive, send):
        async def counted(message):
            nonlocal bodies
            bodies += message["type"] == "http.response.body"
            await send(message)

        await application(scope, receive, counted)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        headers = {"Authorization": f"Bearer {token}", **headers}
        response = await client.get(URL, params={"last_pulled_at": "null"}, headers=headers)
    assert response.status_code == 200
    return response, bodies


@committed
async def test_a_small_pull_is_one_response_and_a_big_one_streams_in_bounded_steps(monkeypatch):
    user = await database_sync_to_async(UserFactory)()
    for n in range(20):
        await database_sync_to_async(FoodLogFactory)(owner=user, name=f"Log {n}")
    token = (await database_sync_to_async(tokens.issue_pair)(user))["access_token"]
    steps: list[int] = []
    gather = views._gather

    def counted(pieces):
        batch, more = gather(pieces)
        steps.append(len(batch))
        return batch, more

    monkeypatch.setattr(views, "_gather", counted)

    whole, messages = await _asgi_pull(token)
    # Rendered whole in the view: no step of a stream, one message.
    assert (len(steps), messages) == (1, 1)
    steps.clear()
    monkeypatch.setattr(views, "BATCH_BYTES", 512)
    monkeypatch.setattr(selectors, "CHUNK_SIZE", 2)
    stepped, messages = await _asgi_pull(token, **{"Accept-Encoding": "identity"})

    assert len(steps) > 10 and messages >= len(steps)
    # Each step ends with the piece that reached the bound: two food logs, under 2 kB.
    assert all(512 <= size < 512 + 2048 for size in steps[:-1])
    assert stepped.json()["changes"] == whole.json()["changes"]
    assert len(whole.json()["changes"]["food_logs"]["created"]) == 20


@committed
def test_social_tables_follow_membership_and_leave_with_it(auth_client, user, other_user):
    connection = connect(user, other_user)
    stranger = UserFactory()
    group = make_group(other_user)
    challenge = Challenge.objects.create(
        group=group,
        name="Move",
        type="workout_minutes",
        goals={"target": 100},
        start_date=timezone.now(),
        end_date=timezone.now() + timedelta(days=7),
        created_by=other_user,
    )
    device = Replica()
    device.sync(auth_client)
    assert device.ids("connections") == {str(connection.pk)}
    assert device.ids("groups") == set() and device.ids("challenges") == set()

    mine = add(group, user)
    device.sync(auth_client)
    assert device.ids("groups") == {str(group.pk)}
    assert device.ids("challenges") == {str(challenge.pk)}
    assert len(device.ids("group_members")) == 2
    assert device.tables["groups"][str(group.pk)]["name"] == "Runners"

    social_services.remove_member(user=user, group_id=group.pk, user_id=user.pk)
    pulled = device.sync(auth_client)
    assert pulled["changes"]["groups"]["deleted"] == [str(group.pk)]
    assert str(mine.pk) in pulled["changes"]["group_members"]["deleted"]
    assert device.ids("groups") == set()
    assert device.ids("group_members") == set()
    assert device.ids("challenges") == set()
    outsider = pull(client_for(stranger))["changes"]
    assert all(outsider[t]["created"] == [] for t in ("connections", "groups", "challenges"))
