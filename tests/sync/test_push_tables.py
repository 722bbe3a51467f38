"""Push of set logs, workout progress, profile, settings and stored files: the REST rules
(bounds, ownership, one row per account) hold over sync too."""

import json
import uuid

import pytest
from django.db import connection

from accounts.models import User
from storage.models import StoredFile
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.storage.factories import stored_file
from tests.sync.helpers import Replica, push
from tests.sync.test_push import changes, exercise_record, workout_record
from tests.workouts.factories import create_workout, exercise_payload
from workouts.models import ExerciseSet, WorkoutProgress

pytestmark = pytest.mark.django_db(transaction=True)


def _sets(workout) -> list[tuple]:
    return list(
        ExerciseSet.objects.filter(exercise__workout=workout)
        .order_by("exercise__position", "position")
        .values_list("exercise__name", "reps", "rpe", "completed")
    )


def _workout_with_sets(user):
    logs = [{"reps": 5, "weight": {"value": 100, "unit": "kg"}}, {"reps": 5}]
    return create_workout(user, exercises=[exercise_payload("Squat", set_logs=logs)])


def _synced(client) -> Replica:
    device = Replica()
    device.sync(client)
    return device


def test_push_updates_creates_and_deletes_set_logs(user, auth_client):
    workout = _workout_with_sets(user)
    device = _synced(auth_client)
    first, second = sorted(device.tables["set_logs"].values(), key=lambda log: log["position"])
    added = {
        "id": str(uuid.uuid4()),
        "exercise_id": first["exercise_id"],
        "position": 2,
        "reps": 3,
        "weight": 225,
        "weight_unit": "lb",
        "rpe": 9,
        "completed": True,
        "_status": "created",
        "_changed": "",
    }

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(
            set_logs={
                "created": [added],
                "updated": [{**first, "reps": 6, "rpe": 8.5, "_status": "updated"}],
                "deleted": [second["id"]],
            }
        ),
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"experimentalRejectedIds": {}, "reasons": {}}
    assert [(reps, float(rpe), done) for _, reps, rpe, done in _sets(workout)] == [
        (6, 8.5, False),
        (3, 9.0, True),
    ]
    workout.refresh_from_db()
    exercise = workout.exercises.get()
    assert exercise.sets == 2
    # 6 x 100 kg + 3 x 225 lb (102.0582 kg).
    assert float(workout.volume_kg) == pytest.approx(600 + 3 * 102.0582, abs=0.01)
    # The app's copies (its UUID, the old numbers) go; the server's numbered ones arrive.
    device.sync(auth_client)
    pulled = sorted(device.tables["set_logs"].values(), key=lambda log: log["position"])
    assert [(log["reps"], log["weight"], log["weight_unit"]) for log in pulled] == [
        (6, 100, "kg"),
        (3, 225, "lb"),
    ]
    assert device.ids("set_logs") == {
        str(pk) for pk in ExerciseSet.objects.values_list("pk", flat=True)
    }
    assert added["id"] not in device.ids("set_logs")


def test_push_of_an_invalid_set_log_rejects_it_and_changes_nothing(user, auth_client):
    workout = _workout_with_sets(user)
    device = _synced(auth_client)
    log = next(iter(device.tables["set_logs"].values()))
    before = _sets(workout)
    watermelon_id = {**log, "id": "x7Kq2mB9pLw4Zr1a"}
    orphan = {**log, "id": str(uuid.uuid4()), "exercise_id": str(uuid.uuid4())}

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(
            set_logs={
                "created": [watermelon_id, orphan],
                "updated": [{**log, "rpe": 11}, {**log, "id": "999999", "reps": -1}],
            }
        ),
    )

    assert response.status_code == 200
    reasons = response.json()["reasons"]["set_logs"]
    assert "rpe" in reasons[log["id"]]
    assert "reps" in reasons["999999"]
    assert "UUID" in reasons["x7Kq2mB9pLw4Zr1a"]
    assert "exercise_id" in reasons[orphan["id"]]
    assert _sets(workout) == before


def test_set_logs_pushed_with_their_new_exercise_and_workout(user, auth_client):
    device = _synced(auth_client)
    workout = workout_record()
    squat = exercise_record(workout["id"], sets=0)
    logs = [
        {"id": str(uuid.uuid4()), "exercise_id": squat["id"], "position": n, "reps": 5}
        for n in range(3)
    ]

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(
            workouts={"created": [workout]},
            exercises={"created": [squat]},
            set_logs={"created": logs},
        ),
    )

    assert response.json() == {"experimentalRejectedIds": {}, "reasons": {}}
    assert ExerciseSet.objects.filter(exercise_id=squat["id"]).count() == 3


def test_a_set_log_edited_on_the_server_after_the_pull_is_a_conflict(user, auth_client):
    workout = _workout_with_sets(user)
    device = _synced(auth_client)
    log = next(iter(device.tables["set_logs"].values()))
    other_device = _synced(client_for(user))
    push(
        client_for(user),
        other_device.last_pulled_at,
        changes(set_logs={"updated": [{**log, "reps": 7}]}),
    )
    before = _sets(workout)

    response = push(
        auth_client, device.last_pulled_at, changes(set_logs={"updated": [{**log, "reps": 9}]})
    )

    error = assert_error(response, 409, "sync_conflict")
    assert error["details"]["conflicts"] == {"set_logs": [log["id"]]}
    assert _sets(workout) == before


def _progress_record(workout, **fields) -> dict:
    exercise = workout.exercises.first()
    return {
        "id": str(uuid.uuid4()),
        "workout_id": str(workout.pk),
        "timestamp": 1_764_000_000_000,
        "completed_exercises": 1,
        "total_exercises": 2,
        "duration": 20,
        "calories_burned": None,
        "calories_estimated": False,
        "marked": json.dumps({"exercises": [str(exercise.pk)], "sets": []}),
        "_status": "created",
        "_changed": "",
        **fields,
    }


def test_push_records_progress_under_the_apps_id_once(user, auth_client):
    workout = create_workout(user)
    device = _synced(auth_client)
    entry = _progress_record(workout)

    first = push(auth_client, device.last_pulled_at, changes(workout_progress={"created": [entry]}))
    device.sync(auth_client)
    again = push(auth_client, device.last_pulled_at, changes(workout_progress={"created": [entry]}))

    # WatermelonDB's sendCreatedAsUpdated sends the same report as an update.
    as_update = push(
        auth_client, device.last_pulled_at, changes(workout_progress={"updated": [entry]})
    )

    nothing_rejected = {"experimentalRejectedIds": {}, "reasons": {}}
    assert first.json() == again.json() == as_update.json() == nothing_rejected
    stored = WorkoutProgress.objects.get()
    assert str(stored.pk) == entry["id"]
    assert (stored.completed_exercises, stored.total_exercises, stored.duration) == (1, 2, 20)
    assert workout.exercises.get(position=0).completed
    assert not workout.exercises.get(position=1).completed
    assert device.tables["workout_progress"][entry["id"]]["completed_exercises"] == 1


def test_progress_history_is_not_edited_or_deleted_over_sync(user, auth_client):
    workout = create_workout(user)
    device = _synced(auth_client)
    entry = _progress_record(workout)
    push(auth_client, device.last_pulled_at, changes(workout_progress={"created": [entry]}))
    device.sync(auth_client)
    bad = _progress_record(workout, marked=json.dumps({"exercises": [str(uuid.uuid4())]}))

    edited = push(
        auth_client,
        device.last_pulled_at,
        changes(workout_progress={"created": [bad], "updated": [{**entry, "duration": 99}]}),
    )
    deleted = push(
        auth_client, device.last_pulled_at, changes(workout_progress={"deleted": [entry["id"]]})
    )

    reasons = edited.json()["reasons"]["workout_progress"]
    assert set(reasons) == {entry["id"], bad["id"]}
    assert "history" in reasons[entry["id"]]
    assert "exercises" in reasons[bad["id"]]
    assert "history" in deleted.json()["reasons"]["workout_progress"][entry["id"]]
    assert list(WorkoutProgress.objects.values_list("pk", "duration")) == [
        (uuid.UUID(entry["id"]), 20)
    ]


def _profile(device: Replica, user) -> dict:
    return device.tables["profile"][str(user.pk)]


def test_push_updates_the_profile_and_settings_through_their_rest_rules(user, auth_client):
    user.preferences = {"units": {"water": "ml", "energy": "kcal"}, "favorite_foods": ["Rice"]}
    user.save()
    device = _synced(auth_client)
    profile = {
        **_profile(device, user),
        "name": "Ada",
        "weight_kg": 61.5,
        "birthday": 631152000000,
        "preferences": json.dumps({"units": {"water": "ml"}, "dietary_restrictions": ["vegan"]}),
        "_status": "updated",
    }
    settings = {
        **device.tables["settings"][str(user.pk)],
        "theme_mode": "dark",
        "privacy_settings": '{"discoverable": false}',
    }

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(profile={"updated": [profile]}, settings={"updated": [settings]}),
    )

    assert response.json() == {"experimentalRejectedIds": {}, "reasons": {}}
    user.refresh_from_db()
    assert (user.name, float(user.weight_kg), str(user.birthday)) == ("Ada", 61.5, "1990-01-01")
    assert user.preferences == {"units": {"water": "ml"}, "dietary_restrictions": ["vegan"]}
    assert user.theme_mode == "dark"
    assert user.privacy_settings["discoverable"] is False
    device.sync(auth_client)
    assert _profile(device, user)["name"] == "Ada"


def test_profile_and_settings_are_one_row_each(user, other_user, auth_client):
    device = _synced(auth_client)
    row = {**_profile(device, user)}
    before = list(User.objects.order_by("pk").values())
    theirs = {**row, "id": str(other_user.pk), "name": "Hijacked"}
    new_settings = {"id": str(uuid.uuid4()), "theme_mode": "dark"}

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(
            profile={
                "created": [{**row, "name": "New"}],
                "updated": [theirs, {**row, "weight_kg": 5000}],
                "deleted": [str(user.pk)],
            },
            settings={
                "created": [new_settings],
                "updated": [{"id": str(user.pk), "timezone": "Mars/Olympus"}],
            },
        ),
    )

    assert response.status_code == 200
    body = response.json()
    stray = body["reasons"]["settings"].pop(new_settings["id"])
    assert "One row per account" in stray
    profile_reasons = body["reasons"]["profile"]
    assert set(profile_reasons) == {str(user.pk), str(other_user.pk)}
    assert "Not your account" in profile_reasons[str(other_user.pk)]
    assert set(body["experimentalRejectedIds"]["profile"]) == {str(user.pk), str(other_user.pk)}
    assert "time zone" in body["reasons"]["settings"][str(user.pk)]
    assert list(User.objects.order_by("pk").values()) == before


def test_profile_changed_on_the_server_after_the_pull_is_a_conflict(user, auth_client):
    device = _synced(auth_client)
    client_for(user).put("/api/v1/users/profile", {"name": "Elsewhere"}, format="json")

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(profile={"updated": [{**_profile(device, user), "name": "Here"}]}),
    )

    error = assert_error(response, 409, "sync_conflict")
    assert error["details"]["conflicts"] == {"profile": [str(user.pk)]}
    user.refresh_from_db()
    assert user.name == "Elsewhere"


def test_stored_files_are_deleted_over_sync_but_never_made_or_edited(user, auth_client):
    kept, doomed = stored_file(user), stored_file(user)
    device = _synced(auth_client)
    record = device.tables["stored_files"][str(kept.pk)]

    response = push(
        auth_client,
        device.last_pulled_at,
        changes(
            stored_files={
                "created": [{**record, "id": str(uuid.uuid4())}],
                "updated": [{**record, "purpose": "avatar", "size": 1}],
                "deleted": [str(doomed.pk), str(uuid.uuid4())],
            }
        ),
    )

    assert response.status_code == 200
    reasons = response.json()["reasons"]["stored_files"]
    assert len(reasons) == 2 and all("upload" in reason for reason in reasons.values())
    assert list(StoredFile.objects.values_list("pk", "purpose", "size")) == [
        (kept.pk, kept.purpose, kept.size)
    ]
    device.sync(auth_client)
    assert device.ids("stored_files") == {str(kept.pk)}


@pytest.mark.parametrize("count", [1, 30])
def test_pushed_sets_of_one_workout_cost_the_same_queries_however_many(
    user, auth_client, count, django_assert_num_queries
):
    workout = _workout_with_sets(user)
    device = _synced(auth_client)
    exercise_id = str(workout.exercises.get().pk)
    logs = [
        {"id": str(uuid.uuid4()), "exercise_id": exercise_id, "position": 2 + n, "reps": 1}
        for n in range(count)
    ]

    # The request's own (auth, the conflict check, savepoints) plus one read and
    # one rewrite of the workout, whatever the number of sets. SQLite (the embedded
    # default) opens the transaction with a `BEGIN IMMEDIATE` that Django counts.
    with django_assert_num_queries(25 + (connection.vendor == "sqlite")):
        response = push(auth_client, device.last_pulled_at, changes(set_logs={"created": logs}))

    assert response.json()["reasons"] == {}
    assert ExerciseSet.objects.filter(exercise_id=exercise_id).count() == 2 + count
