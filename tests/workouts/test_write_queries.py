"""What each workout write costs in SQL statements, pinned exactly, and that the answer of a
write is the same bytes a read of the stored workout gives (writes render without a re-read).

The counts include the 5 statements of the `stats` every single-workout answer carries and
the one that loads the user's row (weight for calories, measurement system); the atomic
block shows as SAVEPOINT / RELEASE because each test runs inside a transaction."""

import uuid

import pytest

from tests.factories import UserFactory, connect
from tests.storage.factories import stored_file
from tests.workouts.factories import exercise_payload, workout_payload
from workouts.models import Exercise, ExerciseSet, Workout, WorkoutPhoto, WorkoutShare

URL = "/api/v1/workouts"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def three_by_three() -> list[dict]:
    """3 exercises of 3 logged sets, weights in pounds (stored rounded to the column)."""
    sets = [{"reps": 5, "weight": {"value": 101.3, "unit": "lb"}, "rpe": 7.5}] * 3
    return [exercise_payload(f"Lift {n}", sets=3, reps=5, set_logs=sets) for n in range(3)]


def rich_payload(reader, photos, **fields) -> dict:
    return workout_payload(
        exercises=three_by_three(),
        shared_with=[str(reader.pk)],
        progress_photo_ids=[str(photo.pk) for photo in photos],
        # Keys out of the order PostgreSQL's jsonb gives them back in.
        ai_form_check={"zeta": 1, "alpha": {"b": 2, "a": [1.50, "x"]}},
        completed=True,
        completed_at="2026-03-01T10:00:00.123456+02:00",
        **fields,
    )


def test_create_of_3_exercises_of_3_sets_runs_12_statements(
    auth_client, user, django_assert_num_queries
):
    payload = workout_payload(exercises=three_by_three())

    # Was 23: the workout read shares twice, deleted shares and photos it never had, and
    # was read back whole (5 statements) before it was rendered.
    with django_assert_num_queries(12):
        response = auth_client.post(URL, payload, format="json")

    assert response.status_code == 201
    assert Exercise.objects.filter(workout__owner=user).count() == 3
    assert ExerciseSet.objects.filter(exercise__workout__owner=user).count() == 9


def test_create_with_a_client_id_a_reader_and_photos_runs_17_statements(
    auth_client, user, other_user, django_assert_num_queries
):
    connect(user, other_user)
    photos = [stored_file(user), stored_file(user)]
    payload = rich_payload(other_user, photos, id=str(uuid.uuid4()))

    # Was 28. Per extra: the client id's check, the sharing check, the photos' files, and
    # one insert each for the shares and the photos.
    with django_assert_num_queries(17):
        response = auth_client.post(URL, payload, format="json")

    assert response.status_code == 201
    workout = Workout.objects.get(pk=payload["id"])
    assert list(WorkoutShare.objects.filter(workout=workout).values_list("user_id", flat=True)) == [
        other_user.pk
    ]
    assert WorkoutPhoto.objects.filter(workout=workout).count() == 2


def test_create_answers_the_bytes_a_read_of_the_stored_workout_gives(auth_client, user, other_user):
    connect(user, other_user)
    photos = [stored_file(user), stored_file(user)]

    created = auth_client.post(
        URL, rich_payload(other_user, photos, id=str(uuid.uuid4())), format="json"
    )
    read = auth_client.get(f"{URL}/{created.json()['workout']['id']}")

    assert created.status_code == 201
    assert created.content == read.content
    assert created["ETag"] == read["ETag"]


def test_replay_of_a_known_id_runs_14_statements_and_changes_nothing(
    auth_client, user, django_assert_num_queries
):
    payload = workout_payload(id=str(uuid.uuid4()), exercises=three_by_three())
    first = auth_client.post(URL, payload, format="json")

    with django_assert_num_queries(14):
        again = auth_client.post(URL, {**payload, "name": "Changed"}, format="json")

    assert again.status_code == 200
    assert again.content == first.content
    assert Workout.objects.get().name == "Push day"


@pytest.mark.parametrize(
    ("verb", "changes", "statements"),
    [
        # Was 17: the readers read by save()'s receiver, then the whole workout read back.
        ("patch", {"notes": "felt strong"}, 15),
        # Was 17; the form check is read back (jsonb orders its keys).
        ("patch", {"ai_form_check": {"zeta": 1, "alpha": 2}, "completed": True}, 16),
        # Was 31: every exercise, set, photo and reader replaced, one reader dropped.
        ("put", "rich", 26),
    ],
)
def test_update_runs_pinned_statements_and_answers_what_a_read_gives(
    auth_client, user, other_user, django_assert_num_queries, verb, changes, statements
):
    connect(user, other_user)
    third = UserFactory()
    connect(user, third)
    photos = [stored_file(user), stored_file(user)]
    created = auth_client.post(URL, rich_payload(third, photos[:1]), format="json")
    url = f"{URL}/{created.json()['workout']['id']}"
    if changes == "rich":
        changes = rich_payload(other_user, photos[::-1])

    with django_assert_num_queries(statements):
        written = getattr(auth_client, verb)(url, changes, format="json")
    read = auth_client.get(url)

    assert written.status_code == 200
    assert written.content == read.content
    assert written["ETag"] == read["ETag"]
