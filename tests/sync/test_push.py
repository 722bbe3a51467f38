import uuid

import pytest
from django.apps import apps

from food.models import FoodLog
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.food.factories import FoodLogFactory
from tests.storage.factories import stored_file
from tests.sync.helpers import URL, Replica, pull, push
from tests.workouts.factories import create_workout
from workouts.models import Exercise, Workout
from workouts.services import record_progress

# Conflicts compare markers with the last pull: only meaningful across real commits.
pytestmark = pytest.mark.django_db(transaction=True)

NOW_MS = 1_764_000_000_000


def food_record(**fields) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "name": "Apple",
        "calories": 95,
        "protein": 0.5,
        "carbs": 25,
        "fat": 0.3,
        "fiber": None,
        "sugar": None,
        "timestamp": NOW_MS,
        "meal_type": "snack",
        "tags": '["fruit"]',
        "image_id": None,
        "image_url": None,
        "ai_analysis": None,
        "metadata": "{}",
        "shared_with": "[]",
        # WatermelonDB's bookkeeping, sent with every record.
        "_status": "created",
        "_changed": "",
        **fields,
    }


def workout_record(**fields) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "name": "Legs",
        "type": "strength",
        "duration": 45,
        "calories_burned": None,
        "calories_estimated": False,
        "completed": False,
        "completed_at": None,
        "notes": "",
        "group_id": None,
        "shared_with": "[]",
        "progress_photo_ids": "[]",
        "_status": "created",
        "_changed": "",
        **fields,
    }


def exercise_record(workout_id: str, position: int = 0, **fields) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "workout_id": workout_id,
        "position": position,
        "name": "Squat",
        "sets": 5,
        "reps": 5,
        "weight": 100,
        "weight_unit": "kg",
        "duration": None,
        "distance": None,
        "completed": False,
        "notes": "",
        "_status": "created",
        "_changed": "",
        **fields,
    }


def changes(**tables) -> dict:
    return {
        name: {"created": [], "updated": [], "deleted": [], **table}
        for name, table in tables.items()
    }


def test_push_creates_records_that_a_second_device_pulls(user):
    phone, tablet = client_for(user), client_for(user)
    device = Replica()
    device.sync(phone)
    workout = workout_record()
    squat = exercise_record(workout["id"])
    log = food_record()

    response = push(
        phone,
        device.last_pulled_at,
        changes(
            food_logs={"created": [log]},
            workouts={"created": [workout]},
            exercises={"created": [squat]},
        ),
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"experimentalRejectedIds": {}, "reasons": {}}
    other = Replica()
    other.sync(tablet)
    pulled_log = other.tables["food_logs"][log["id"]]
    assert pulled_log["name"] == "Apple" and pulled_log["tags"] == '["fruit"]'
    assert pulled_log["timestamp"] == NOW_MS
    assert other.ids("workouts") == {workout["id"]}
    pulled_squat = other.tables["exercises"][squat["id"]]
    assert pulled_squat["workout_id"] == workout["id"]
    assert pulled_squat["weight"] == 100 and pulled_squat["weight_unit"] == "kg"
    assert Workout.objects.get(pk=workout["id"]).volume_kg == 2500


def test_push_of_a_created_record_that_exists_updates_it(user, auth_client):
    log = FoodLogFactory(owner=user, name="Old")
    device = Replica()
    device.sync(auth_client)

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(food_logs={"created": [food_record(id=str(log.pk), name="New")]}),
    )

    assert response.status_code == 200
    assert FoodLog.objects.get(pk=log.pk).name == "New"
    assert FoodLog.objects.count() == 1


def test_push_of_an_update_to_a_missing_record_creates_it(auth_client):
    device = Replica()
    device.sync(auth_client)
    record = food_record(_status="updated")

    response = push(auth_client, device.last_pulled_at, changes(food_logs={"updated": [record]}))

    assert response.status_code == 200
    assert FoodLog.objects.filter(pk=record["id"]).exists()


def test_push_deleting_unknown_ids_is_a_no_op_and_deletes_own(user, auth_client):
    log = FoodLogFactory(owner=user)
    workout = create_workout(user)
    device = Replica()
    device.sync(auth_client)

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(
            food_logs={"deleted": [str(log.pk), str(uuid.uuid4()), "not-an-id"]},
            workouts={"deleted": [str(workout.pk)]},
        ),
    )

    assert response.status_code == 200
    assert FoodLog.objects.get(pk=log.pk).is_deleted
    assert Workout.objects.get(pk=workout.pk).is_deleted
    pulled = device.sync(auth_client)
    assert pulled["changes"]["food_logs"]["deleted"] == [str(log.pk)]


def test_push_deleting_an_exercise_rewrites_its_workout(user, auth_client):
    workout = create_workout(user)
    device = Replica()
    device.sync(auth_client)
    doomed, kept = workout.exercises.order_by("position")

    response = push(
        auth_client, device.last_pulled_at, changes(exercises={"deleted": [str(doomed.pk)]})
    )

    assert response.status_code == 200
    assert list(Exercise.objects.filter(workout=workout).values_list("pk", flat=True)) == [kept.pk]
    pulled = device.sync(auth_client)
    assert pulled["changes"]["exercises"]["deleted"] == [str(doomed.pk)]


def test_push_after_a_server_change_is_409_and_applies_nothing(user, auth_client):
    log = FoodLogFactory(owner=user, name="Mine")
    device = Replica()
    device.sync(auth_client)
    log.name = "Edited on the web"
    log.save()
    fresh = food_record()

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(food_logs={"created": [fresh], "updated": [food_record(id=str(log.pk))]}),
    )

    error = assert_error(response, 409, "sync_conflict")
    assert error["details"]["conflicts"] == {"food_logs": [str(log.pk)]}
    assert FoodLog.objects.get(pk=log.pk).name == "Edited on the web"
    assert not FoodLog.objects.filter(pk=fresh["id"]).exists()
    device.sync(auth_client)
    retry = push(
        auth_client,
        device.last_pulled_at,
        changes(food_logs={"updated": [food_record(id=str(log.pk), name="Phone wins")]}),
    )
    assert retry.status_code == 200
    assert FoodLog.objects.get(pk=log.pk).name == "Phone wins"


def test_push_after_a_server_delete_is_a_conflict(user, auth_client):
    workout = create_workout(user)
    device = Replica()
    device.sync(auth_client)
    exercise = workout.exercises.first()
    exercise_id = str(exercise.pk)
    exercise.delete()

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(exercises={"updated": [exercise_record(str(workout.pk), id=exercise_id)]}),
    )

    error = assert_error(response, 409, "sync_conflict")
    assert error["details"]["conflicts"] == {"exercises": [exercise_id]}


def test_push_rejects_records_that_can_never_apply_and_applies_the_rest(user, auth_client):
    device = Replica()
    device.sync(auth_client)
    good = food_record()
    watermelon_id = food_record(id="x7Kq2mB9pLw4Zr1a")
    too_big = food_record(calories=10**9)
    bad_json = food_record(tags="[not json")

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(
            food_logs={"created": [good, watermelon_id, too_big, bad_json]},
            chat_messages={"created": [{"id": str(uuid.uuid4()), "content": "hi"}]},
        ),
    )

    assert response.status_code == 200
    body = response.json()
    rejected = body["experimentalRejectedIds"]
    assert set(rejected["food_logs"]) == {watermelon_id["id"], too_big["id"], bad_json["id"]}
    assert "UUID" in body["reasons"]["food_logs"]["x7Kq2mB9pLw4Zr1a"]
    assert "calories" in body["reasons"]["food_logs"][too_big["id"]]
    assert "tags" in body["reasons"]["food_logs"][bad_json["id"]]
    assert "read-only" in next(iter(body["reasons"]["chat_messages"].values()))
    assert list(FoodLog.objects.values_list("pk", flat=True)) == [uuid.UUID(good["id"])]


def test_push_keeps_the_image_and_sharing_rules(user, other_user, auth_client):
    device = Replica()
    device.sync(auth_client)
    their_file = stored_file(other_user)
    stranger = UserFactory()
    with_image = food_record(image_id=str(their_file.pk))
    shared = food_record(shared_with=f'["{stranger.pk}"]')

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(food_logs={"created": [with_image, shared]}),
    )

    rejected = response.json()["experimentalRejectedIds"]["food_logs"]
    assert set(rejected) == {with_image["id"], shared["id"]}
    assert FoodLog.objects.count() == 0


def _everything() -> dict[str, list]:
    """Every row of every table of ours, to prove a push changed nothing of anyone else."""
    return {
        model._meta.label: sorted(map(str, model._base_manager.values_list()))
        for app in ("food", "workouts", "storage", "ai_assistant", "accounts")
        for model in apps.get_app_config(app).get_models()
    }


def test_push_naming_another_users_ids_changes_nothing_of_theirs(other_user, auth_client):
    log = FoodLogFactory(owner=other_user)
    workout = create_workout(
        other_user, exercises=[{"name": "Squat", "set_logs": [{"reps": 5}, {"reps": 3}]}]
    )
    exercise = workout.exercises.first()
    set_log = exercise.set_logs.first()
    progress = record_progress(owner=other_user, workout_id=workout.pk, exercises=[0], sets=[])
    their_file = stored_file(other_user)
    device = Replica()
    device.sync(auth_client)
    theirs = str(other_user.pk)
    set_log_record = {
        "id": str(set_log.pk),
        "exercise_id": str(exercise.pk),
        "position": 0,
        "reps": 99,
    }
    progress_record = {
        "id": str(progress.pk),
        "workout_id": str(workout.pk),
        "completed_exercises": 1,
    }
    # The pushing user's own row may move (nothing of theirs is pushed); the other's not.
    before = {label: rows for label, rows in _everything().items() if label != "accounts.User"} | {
        "them": list(type(other_user).objects.filter(pk=other_user.pk).values())
    }

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(
            food_logs={
                "created": [food_record(id=str(log.pk))],
                "updated": [food_record(id=str(log.pk), name="Hijacked")],
                "deleted": [str(log.pk)],
            },
            workouts={
                "updated": [workout_record(id=str(workout.pk))],
                "deleted": [str(workout.pk)],
            },
            exercises={
                "updated": [exercise_record(str(workout.pk), id=str(exercise.pk))],
                "deleted": [str(exercise.pk)],
            },
            set_logs={
                "created": [{**set_log_record, "id": str(uuid.uuid4())}],
                "updated": [set_log_record],
                "deleted": [str(set_log.pk)],
            },
            workout_progress={
                "created": [progress_record],
                "updated": [{**progress_record, "id": str(uuid.uuid4())}],
            },
            stored_files={"deleted": [str(their_file.pk)]},
            profile={"updated": [{"id": theirs, "name": "Hijacked"}]},
            settings={"updated": [{"id": theirs, "theme_mode": "dark"}]},
        ),
    )

    assert response.status_code == 200
    after = {label: rows for label, rows in _everything().items() if label != "accounts.User"} | {
        "them": list(type(other_user).objects.filter(pk=other_user.pk).values())
    }
    assert after == before
    rejected = response.json()["experimentalRejectedIds"]
    assert str(log.pk) in rejected["food_logs"]
    assert str(workout.pk) in rejected["workouts"]
    assert str(exercise.pk) in rejected["exercises"]
    assert str(set_log.pk) in rejected["set_logs"]
    assert str(progress.pk) in rejected["workout_progress"]
    assert rejected["profile"] == rejected["settings"] == [theirs]
    assert "Hijacked" not in response.content.decode()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"passwords": {"created": [], "updated": [], "deleted": []}},
        {"food_logs": {"created": "everything"}},
    ],
)
def test_push_with_a_malformed_body_is_400_and_changes_nothing(user, auth_client, body):
    FoodLogFactory(owner=user)
    before = _everything()

    response = auth_client.post(f"{URL}?last_pulled_at=1", body, format="json")

    assert_error(response, 400, "validation_error")
    assert _everything() == before


def test_push_without_last_pulled_at_is_400(auth_client):
    response = auth_client.post(URL, changes(food_logs={"created": [food_record()]}), format="json")

    assert_error(response, 400, "validation_error")
    assert FoodLog.objects.count() == 0


def test_a_conflicting_edit_resolves_by_pull_then_push(user):
    phone, tablet = Replica(), Replica()
    phone_client, tablet_client = client_for(user), client_for(user)
    log = FoodLogFactory(owner=user, name="Lunch")
    phone.sync(phone_client)
    tablet.sync(tablet_client)

    first = push(
        tablet_client,
        tablet.last_pulled_at,
        changes(food_logs={"updated": [food_record(id=str(log.pk), name="Tablet")]}),
    )
    second = push(
        phone_client,
        phone.last_pulled_at,
        changes(food_logs={"updated": [food_record(id=str(log.pk), name="Phone")]}),
    )

    assert first.status_code == 200
    assert_error(second, 409, "sync_conflict")
    assert (
        pull(phone_client, phone.last_pulled_at)["changes"]["food_logs"]["updated"][0]["name"]
        == "Tablet"
    )
    assert FoodLog.objects.get(pk=log.pk).name == "Tablet"
