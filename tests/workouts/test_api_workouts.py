"""Create, list, read, update and delete workouts as a client sees them."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.asserts import assert_error
from tests.factories import connect
from tests.workouts.factories import create_workout, exercise_payload, workout_payload
from workouts.models import Exercise, ExerciseSet, Workout, WorkoutShare

URL = "/api/v1/workouts"
pytestmark = pytest.mark.django_db


def detail(workout_id) -> str:
    return f"{URL}/{workout_id}"


# --- one shape ------------------------------------------------------------------------------


def test_every_single_workout_read_and_write_answers_the_workout_response(auth_client):
    created = auth_client.post(URL, workout_payload(), format="json")
    workout_id = created.json()["workout"]["id"]
    url = detail(workout_id)
    answers = {
        "POST": created,
        "POST again": auth_client.post(URL, workout_payload(id=workout_id), format="json"),
        "GET": auth_client.get(url),
        "PUT": auth_client.put(url, workout_payload(), format="json"),
        "PATCH": auth_client.patch(url, {"notes": "n"}, format="json"),
    }

    read = answers["GET"].json()
    for verb, response in answers.items():
        body = response.json()
        assert set(body) == {"workout", "progress", "stats"}, verb
        assert set(body["workout"]) == set(read["workout"]), verb
        assert body["progress"]["workout_id"] == workout_id, verb
        assert set(body["stats"]) == set(read["stats"]), verb
    assert created["Location"] == f"http://testserver{url}"
    assert "Location" not in answers["POST again"]
    # List items are the bare workout, in the list envelope.
    assert set(auth_client.get(URL).json()["items"][0]) == set(read["workout"])


# --- create ---------------------------------------------------------------------------------


def test_create_returns_201_with_exercises_in_order(auth_client, user):
    payload = workout_payload(
        notes="felt strong",
        exercises=[
            exercise_payload("Bench press", sets=3, reps=5, weight={"value": 100, "unit": "kg"}),
            exercise_payload("Plank", duration=90),
            exercise_payload("Row", distance=2000, completed=True, notes="erg"),
        ],
    )
    response = auth_client.post(URL, payload, format="json")

    assert response.status_code == 201
    body = response.json()["workout"]
    assert response["ETag"]
    assert body["user_id"] == str(user.id)
    assert body["name"] == "Push day"
    assert body["type"] == "strength"
    assert body["duration"] == 60
    assert body["completed"] is False
    assert body["completed_at"] is None
    assert body["notes"] == "felt strong"
    assert body["progress_photos"] == []
    assert body["shared_with"] == []
    assert body["group_id"] is None
    assert body["ai_form_check"] is None
    assert [e["name"] for e in body["exercises"]] == ["Bench press", "Plank", "Row"]
    bench, plank, row = body["exercises"]
    assert bench["weight"] == {"value": 100.0, "unit": "kg"}
    assert (bench["sets"], bench["reps"]) == (3, 5)
    assert plank["duration"] == 90 and plank["weight"] is None
    assert row["distance"] == 2000.0 and row["completed"] is True and row["notes"] == "erg"
    assert set(body) >= {
        "id", "user_id", "name", "type", "duration", "calories_burned", "completed",
        "created_at", "exercises", "progress_photos", "ai_form_check", "shared_with",
        "group_id", "completed_at", "notes", "updated_at", "calories_estimated",
    }  # fmt: skip
    assert Exercise.objects.filter(workout_id=body["id"]).count() == 3


def test_create_keeps_weight_in_entered_unit_and_stores_kg(auth_client):
    payload = workout_payload(
        exercises=[exercise_payload("Squat", sets=1, reps=5, weight={"value": 225, "unit": "lb"})]
    )
    body = auth_client.post(URL, payload, format="json").json()["workout"]

    assert body["exercises"][0]["weight"] == {"value": 225.0, "unit": "lb"}
    stored = Exercise.objects.get(workout_id=body["id"])
    assert str(stored.weight_kg) == "102.0583"  # 225 x 0.45359237
    assert stored.weight_unit == "lb"


def test_create_with_set_logs_counts_sets_from_them(auth_client):
    payload = workout_payload(
        exercises=[
            exercise_payload(
                "Deadlift",
                reps=5,
                weight={"value": 140, "unit": "kg"},
                set_logs=[
                    {"reps": 5},
                    {"reps": 3, "weight": {"value": 150, "unit": "kg"}, "rpe": 9.5},
                ],
            )
        ]
    )
    body = auth_client.post(URL, payload, format="json").json()["workout"]

    exercise = body["exercises"][0]
    assert exercise["sets"] == 2
    assert exercise["set_logs"] == [
        {"reps": 5, "weight": None, "rpe": None, "completed": False},
        {"reps": 3, "weight": {"value": 150.0, "unit": "kg"}, "rpe": 9.5, "completed": False},
    ]


def test_create_rejects_sets_that_disagree_with_set_logs(auth_client):
    payload = workout_payload(
        exercises=[exercise_payload("Deadlift", sets=3, set_logs=[{"reps": 5}])]
    )
    response = auth_client.post(URL, payload, format="json")

    assert (
        "sets"
        in assert_error(response, 400, "validation_error")["details"]["fields"]["exercises"]["0"]
    )


def test_create_marks_completed_at_when_created_completed(auth_client):
    before = timezone.now()
    body = auth_client.post(URL, workout_payload(completed=True), format="json").json()["workout"]

    assert body["completed"] is True
    assert body["completed_at"] >= before.isoformat().replace("+00:00", "Z")


def test_create_accepts_client_times_in_the_past(auth_client):
    when = (timezone.now() - timedelta(days=2)).replace(microsecond=0)
    payload = workout_payload(
        created_at=when.isoformat(),
        completed=True,
        completed_at=(when + timedelta(hours=1)).isoformat(),
    )
    body = auth_client.post(URL, payload, format="json").json()["workout"]

    assert body["created_at"] == when.isoformat().replace("+00:00", "Z")
    assert body["completed_at"] == (when + timedelta(hours=1)).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "yoga"}, "type"),
        ({"name": ""}, "name"),
        ({"duration": -1}, "duration"),
        ({"calories_burned": -5}, "calories_burned"),
        ({"created_at": "2999-01-01T00:00:00Z"}, "created_at"),
        ({"completed": False, "completed_at": "2025-01-01T00:00:00Z"}, "completed_at"),
        ({"progress_photos": "x"}, "progress_photos"),
        ({"ai_form_check": [1, 2]}, "ai_form_check"),
        ({"shared_with": ["not-a-uuid"]}, "shared_with"),
        ({"colour": "red"}, "colour"),
        ({"exercises": [{"name": "Bench", "sets": -1}]}, "exercises"),
        ({"exercises": [{"name": "Bench", "reps": -3}]}, "exercises"),
        ({"exercises": [{"name": "Bench", "weight": {"value": -5, "unit": "kg"}}]}, "exercises"),
        ({"exercises": [{"name": "Bench", "weight": {"value": 5, "unit": "stone"}}]}, "exercises"),
        ({"exercises": [{"name": "Bench", "weight": 5}]}, "exercises"),
        ({"exercises": [{"name": "Run", "distance": -1}]}, "exercises"),
        ({"exercises": [{"name": "Bench", "set_logs": [{"reps": 5, "rpe": 11}]}]}, "exercises"),
        ({"exercises": [{"sets": 3}]}, "exercises"),
        ({"exercises": [{"name": "Bench", "speed": 3}]}, "exercises"),
        ({"exercises": [{"name": f"E{i}"} for i in range(101)]}, "exercises"),
    ],
)
def test_create_rejects_invalid_input_and_stores_nothing(auth_client, overrides, field):
    response = auth_client.post(URL, workout_payload(**overrides), format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"]["fields"]
    assert Workout.objects.count() == 0


def test_create_accepts_exactly_100_exercises(auth_client):
    exercises = [exercise_payload(f"E{i}", sets=1, reps=1) for i in range(100)]
    response = auth_client.post(URL, workout_payload(exercises=exercises), format="json")

    assert response.status_code == 201
    assert len(response.json()["workout"]["exercises"]) == 100


def test_create_accepts_zero_weight_for_bodyweight_work(auth_client):
    payload = workout_payload(
        exercises=[exercise_payload("Pull-up", sets=3, reps=8, weight={"value": 0, "unit": "kg"})]
    )
    response = auth_client.post(URL, payload, format="json")

    assert response.status_code == 201
    assert response.json()["workout"]["exercises"][0]["weight"] == {"value": 0.0, "unit": "kg"}


def test_create_rejects_non_json_body(auth_client):
    response = auth_client.post(URL, "name=x", content_type="application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")


def test_create_requires_authentication(api_client):
    response = api_client.post(URL, workout_payload(), format="json")

    assert_error(response, 401, "not_authenticated")


# --- idempotent create ----------------------------------------------------------------------


def test_create_with_same_id_twice_returns_stored_workout_without_duplicate(auth_client):
    workout_id = str(uuid.uuid4())
    first = auth_client.post(URL, workout_payload(id=workout_id), format="json")
    again = auth_client.post(
        URL, workout_payload(id=workout_id, name="Something else"), format="json"
    )

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["workout"]["name"] == "Push day"
    assert Workout.objects.count() == 1
    assert Exercise.objects.count() == 2


def test_create_with_id_of_another_users_workout_is_409_revealing_nothing(auth_client, other_user):
    theirs = create_workout(other_user, name="Secret session")

    response = auth_client.post(URL, workout_payload(id=str(theirs.id)), format="json")

    error = assert_error(response, 409, "id_conflict")
    assert error["details"] == {}
    assert "Secret" not in response.content.decode()
    assert Workout.objects.count() == 1


def test_create_with_id_of_own_deleted_workout_is_410_and_stays_deleted(auth_client, user):
    mine = create_workout(user)
    assert auth_client.delete(detail(mine.id)).status_code == 204

    response = auth_client.post(URL, workout_payload(id=str(mine.id)), format="json")

    assert_error(response, 410, "id_deleted")
    mine.refresh_from_db()
    assert mine.is_deleted
    assert Workout.objects.count() == 1


# --- share ----------------------------------------------------------------------------------


def test_create_shares_with_listed_users(auth_client, user, other_user):
    connect(user, other_user)
    body = auth_client.post(
        URL, workout_payload(shared_with=[str(other_user.id)] * 2), format="json"
    ).json()["workout"]

    assert body["shared_with"] == [str(other_user.id)]
    assert WorkoutShare.objects.filter(workout_id=body["id"]).count() == 1


@pytest.mark.parametrize("who", ["unknown", "self"])
def test_create_rejects_unknown_or_self_share_and_stores_nothing(auth_client, user, who):
    target = uuid.uuid4() if who == "unknown" else user.id
    response = auth_client.post(URL, workout_payload(shared_with=[str(target)]), format="json")

    assert "shared_with" in assert_error(response, 400, "validation_error")["details"]["fields"]
    assert Workout.objects.count() == 0
    assert Exercise.objects.count() == 0


# --- list -----------------------------------------------------------------------------------


def _at(days_ago: float) -> str:
    return (timezone.now() - timedelta(days=days_ago)).isoformat()


def test_list_returns_own_workouts_newest_first_in_envelope(auth_client, user, other_user):
    old = create_workout(user, name="Old", created_at=_at(3))
    new = create_workout(user, name="New", created_at=_at(1))
    create_workout(other_user, name="Not mine")
    deleted = create_workout(user, name="Gone")
    auth_client.delete(detail(deleted.id))

    body = auth_client.get(URL).json()

    assert body["total"] == 2
    assert body["page"] == 1
    assert body["hasMore"] is False
    assert [item["id"] for item in body["items"]] == [str(new.id), str(old.id)]
    assert body["items"][0]["exercises"][0]["name"] == "Bench press"


def test_list_pages(auth_client, user):
    for day in range(5):
        create_workout(user, name=f"W{day}", created_at=_at(day + 1))

    first = auth_client.get(URL, {"page_size": 2}).json()
    last = auth_client.get(URL, {"page_size": 2, "page": 3}).json()

    assert [i["name"] for i in first["items"]] == ["W0", "W1"]
    assert first["hasMore"] is True and first["total"] == 5
    assert [i["name"] for i in last["items"]] == ["W4"]
    assert last["hasMore"] is False


def test_list_filters_by_type_completed_text_and_time(auth_client, user):
    create_workout(user, name="Morning run", type="cardio", created_at=_at(10))
    create_workout(user, name="Legs", type="strength", completed=True, created_at=_at(5))
    create_workout(user, name="Yoga", type="flexibility", notes="easy run-down", created_at=_at(1))

    def names(**params):
        return [i["name"] for i in auth_client.get(URL, params).json()["items"]]

    assert names(type="cardio") == ["Morning run"]
    assert names(completed="true") == ["Legs"]
    assert names(completed="false") == ["Yoga", "Morning run"]
    assert names(q="RUN") == ["Yoga", "Morning run"]
    assert names(**{"from": _at(6)}) == ["Yoga", "Legs"]
    assert names(to=_at(4)) == ["Legs", "Morning run"]
    assert names(**{"from": _at(6), "to": _at(4)}) == ["Legs"]


def test_list_date_bounds_cover_whole_local_days(auth_client, user):
    user.timezone = "America/New_York"
    user.save()
    # 2025-03-10 03:30 UTC is still the 9th in New York.
    create_workout(user, name="Late", created_at="2025-03-10T03:30:00Z")

    on_9th = auth_client.get(URL, {"from": "2025-03-09", "to": "2025-03-09"}).json()
    on_10th = auth_client.get(URL, {"from": "2025-03-10", "to": "2025-03-10"}).json()

    assert on_9th["total"] == 1
    assert on_10th["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"type": "yoga"},
        {"completed": "maybe"},
        {"from": "yesterday"},
        {"page": 0},
        {"from": "2025-03-10", "to": "2025-03-01"},
        {"q": "x" * 101},
    ],
)
def test_list_rejects_bad_filters(auth_client, params):
    response = auth_client.get(URL, params)

    assert_error(response, 400, "validation_error")


def _bulk_workouts(owner, count: int) -> None:
    for index in range(count):
        create_workout(
            owner,
            name=f"W{index}",
            shared_with=[],
            exercises=[
                exercise_payload(
                    f"Lift {n}",
                    sets=2,
                    reps=5,
                    weight={"value": 50 + n, "unit": "kg"},
                    set_logs=[{"reps": 5}, {"reps": 5}],
                )
                for n in range(4)
            ],
        )


def _queries(client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return len(captured)


def test_list_query_count_does_not_grow_with_page_size(
    auth_client, user, other_user, django_assert_max_num_queries
):
    _bulk_workouts(user, 2)
    few = _queries(auth_client, URL)
    _bulk_workouts(user, 18)
    WorkoutShare.objects.bulk_create(
        WorkoutShare(workout=workout, user=other_user) for workout in Workout.objects.all()
    )

    with django_assert_max_num_queries(few):
        body = auth_client.get(URL, {"page_size": 100}).json()
    assert len(body["items"]) == 20
    assert few <= 7


# --- read -----------------------------------------------------------------------------------


def test_detail_returns_workout_response_with_progress_stats_and_etag(auth_client, user):
    workout = create_workout(user, calories_burned=300)

    response = auth_client.get(detail(workout.id))

    assert response.status_code == 200
    assert response["ETag"]
    body = response.json()
    assert set(body) == {"workout", "progress", "stats"}
    assert body["workout"]["id"] == str(workout.id)
    assert body["progress"] == {
        "workout_id": str(workout.id),
        "completed_exercises": 0,
        "total_exercises": 2,
        "duration": 60,
        "calories_burned": 300,
        "calories_estimated": False,
        "timestamp": body["workout"]["updated_at"],
    }
    assert body["stats"]["totals"]["workouts"] == 1
    assert body["stats"]["totals"]["calories_burned"] == 300


def test_detail_query_count_is_fixed(auth_client, user, django_assert_max_num_queries):
    _bulk_workouts(user, 1)
    small = Workout.objects.get()
    few = _queries(auth_client, detail(small.id))
    _bulk_workouts(user, 15)
    big = create_workout(
        user, exercises=[exercise_payload(f"X{n}", sets=1, reps=1) for n in range(60)]
    )

    with django_assert_max_num_queries(few):
        assert auth_client.get(detail(big.id)).status_code == 200
    # 11 since progress photos are linked files: one more prefetch (photos joined with
    # their files), the same for any number of photos.
    assert few <= 11


def test_detail_of_unknown_or_malformed_id_is_404(auth_client):
    assert auth_client.get(detail(uuid.uuid4())).status_code == 404
    response = auth_client.get(f"{URL}/not-a-uuid")
    assert_error(response, 404, "not_found")


# --- update ---------------------------------------------------------------------------------


def test_put_replaces_fields_and_exercises_as_a_whole(auth_client, user):
    workout = create_workout(user, notes="old", completed=True)
    kept = workout.exercises.all()[1]

    response = auth_client.put(
        detail(workout.id),
        {
            "name": "Pull day",
            "type": "strength",
            "exercises": [
                {"name": "Chin-up", "sets": 4, "reps": 6},
                {"id": str(kept.id), "name": "Dips", "sets": 2, "reps": 12},
            ],
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()["workout"]
    assert body["name"] == "Pull day"
    assert body["notes"] == ""
    assert body["progress_photos"] == []
    assert body["completed"] is False and body["completed_at"] is None
    assert body["duration"] is None
    assert [(e["name"], e["sets"]) for e in body["exercises"]] == [("Chin-up", 4), ("Dips", 2)]
    assert body["exercises"][1]["id"] == str(kept.id)
    assert Exercise.objects.filter(workout=workout).count() == 2
    assert response["ETag"] != ""


def test_put_accepts_the_object_it_read_back(auth_client, user):
    workout = create_workout(user)
    read = auth_client.get(detail(workout.id)).json()["workout"]
    read["name"] = "Renamed"
    for exercise in read["exercises"]:
        exercise.pop("set_logs")

    response = auth_client.put(detail(workout.id), read, format="json")

    assert response.status_code == 200
    assert response.json()["workout"]["name"] == "Renamed"
    assert [e["id"] for e in response.json()["workout"]["exercises"]] == [
        e["id"] for e in read["exercises"]
    ]


def test_put_rejects_exercise_id_of_another_workout_and_changes_nothing(auth_client, user):
    workout = create_workout(user)
    other = create_workout(user)
    foreign = other.exercises.first()

    response = auth_client.put(
        detail(workout.id),
        {"name": "X", "type": "cardio", "exercises": [{"id": str(foreign.id), "name": "Y"}]},
        format="json",
    )

    assert (
        "id"
        in assert_error(response, 400, "validation_error")["details"]["fields"]["exercises"]["0"]
    )
    workout.refresh_from_db()
    assert workout.name == "Push day"
    assert workout.exercises.count() == 2


def test_patch_changes_only_sent_fields(auth_client, user):
    workout = create_workout(user, notes="keep me")

    response = auth_client.patch(detail(workout.id), {"name": "Renamed"}, format="json")

    body = response.json()["workout"]
    assert response.status_code == 200
    assert body["name"] == "Renamed"
    assert body["notes"] == "keep me"
    assert len(body["exercises"]) == 2


def test_patch_with_exercises_replaces_them_and_validates_them_in_full(auth_client, user):
    workout = create_workout(user)

    missing_name = auth_client.patch(
        detail(workout.id), {"exercises": [{"sets": 3}]}, format="json"
    )
    replaced = auth_client.patch(
        detail(workout.id), {"exercises": [{"name": "Only one"}]}, format="json"
    )

    assert (
        "name"
        in assert_error(missing_name, 400, "validation_error")["details"]["fields"]["exercises"][
            "0"
        ]
    )
    assert [e["name"] for e in replaced.json()["workout"]["exercises"]] == ["Only one"]


def test_patch_completed_sets_and_clears_completed_at(auth_client, user):
    workout = create_workout(user)

    done = auth_client.patch(detail(workout.id), {"completed": True}, format="json").json()[
        "workout"
    ]
    undone = auth_client.patch(detail(workout.id), {"completed": False}, format="json").json()[
        "workout"
    ]

    assert done["completed"] is True and done["completed_at"] is not None
    assert undone["completed"] is False and undone["completed_at"] is None


def test_patch_completed_at_on_unfinished_workout_is_400(auth_client, user):
    workout = create_workout(user)

    response = auth_client.patch(
        detail(workout.id), {"completed_at": "2025-01-01T00:00:00Z"}, format="json"
    )

    assert "completed_at" in assert_error(response, 400, "validation_error")["details"]["fields"]


def test_patch_shared_with_replaces_shares(auth_client, user, other_user):
    connect(user, other_user)
    workout = create_workout(user, shared_with=[str(other_user.id)])

    body = auth_client.patch(detail(workout.id), {"shared_with": []}, format="json").json()[
        "workout"
    ]

    assert body["shared_with"] == []
    assert not WorkoutShare.objects.filter(workout=workout).exists()


# --- If-Match -------------------------------------------------------------------------------


def test_update_with_current_etag_succeeds_and_changes_etag(auth_client, user):
    workout = create_workout(user)
    etag = auth_client.get(detail(workout.id))["ETag"]

    response = auth_client.patch(
        detail(workout.id), {"name": "New"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200
    assert response["ETag"] != etag


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_with_stale_etag_is_412_and_changes_nothing(auth_client, user, method):
    workout = create_workout(user)
    stale = auth_client.get(detail(workout.id))["ETag"]
    auth_client.patch(detail(workout.id), {"name": "Changed elsewhere"}, format="json")

    response = getattr(auth_client, method)(
        detail(workout.id),
        {"name": "Mine", "type": "cardio"},
        format="json",
        HTTP_IF_MATCH=stale,
    )

    error = assert_error(response, 412, "precondition_failed")
    assert error["details"]["current_etag"] == auth_client.get(detail(workout.id))["ETag"]
    workout.refresh_from_db()
    assert workout.name == "Changed elsewhere"
    assert workout.deleted_at is None


# --- delete ---------------------------------------------------------------------------------


def test_delete_leaves_tombstone_and_hides_workout(auth_client, user):
    workout = create_workout(user)

    response = auth_client.delete(detail(workout.id))

    assert response.status_code == 204
    workout.refresh_from_db()
    assert workout.deleted_at is not None
    assert auth_client.get(detail(workout.id)).status_code == 404
    assert auth_client.delete(detail(workout.id)).status_code == 404
    assert auth_client.get(URL).json()["total"] == 0


# --- ownership ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("put", "", {"name": "Mine now", "type": "cardio"}),
        ("patch", "", {"name": "Mine now"}),
        ("delete", "", None),
        ("get", "/progress", None),
        ("post", "/progress", {"exercises": [0]}),
    ],
)
def test_every_verb_on_another_users_workout_is_404_and_changes_nothing(
    auth_client, other_user, method, suffix, body
):
    theirs = create_workout(other_user, name="Theirs")
    before = Workout.objects.values().get(pk=theirs.pk)

    response = getattr(auth_client, method)(detail(theirs.id) + suffix, body, format="json")

    assert_error(response, 404, "not_found")
    assert "Theirs" not in response.content.decode()
    assert Workout.objects.values().get(pk=theirs.pk) == before
    assert not Exercise.objects.filter(workout=theirs, completed=True).exists()
    assert not ExerciseSet.objects.filter(exercise__workout=theirs, completed=True).exists()


def test_routes_named_like_ids_are_not_taken_as_ids(auth_client):
    assert auth_client.get(f"{URL}/stats").status_code == 200
