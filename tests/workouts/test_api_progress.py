"""POST/GET /workouts/{id}/progress: marking work done, history, auto-completion."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.asserts import assert_error
from tests.workouts.factories import create_workout, exercise_payload
from workouts.models import Exercise, Workout, WorkoutProgress

pytestmark = pytest.mark.django_db


def progress_url(workout_id) -> str:
    return f"/api/v1/workouts/{workout_id}/progress"


@pytest.fixture
def session(lifter):
    """Three exercises; the last one is recorded set by set."""
    return create_workout(
        lifter,
        duration=None,
        exercises=[
            exercise_payload("Squat", sets=3, reps=5, weight={"value": 100, "unit": "kg"}),
            exercise_payload("Lunge", sets=2, reps=10),
            exercise_payload(
                "Press", reps=5, weight={"value": 50, "unit": "kg"}, set_logs=[{"reps": 5}] * 3
            ),
        ],
    )


def test_progress_marks_exercises_by_index_and_id(client_for_lifter, session):
    lunge = session.exercises.get(name="Lunge")

    response = client_for_lifter.post(
        progress_url(session.id), {"exercises": [0, str(lunge.id)]}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["workout_id"] == str(session.id)
    assert body["completed_exercises"] == 2
    assert body["total_exercises"] == 3
    assert body["duration"] == 0
    assert body["calories_burned"] == 0
    assert body["timestamp"]
    done = set(
        Exercise.objects.filter(workout=session, completed=True).values_list("name", flat=True)
    )
    assert done == {"Squat", "Lunge"}
    session.refresh_from_db()
    assert session.completed is False


def test_progress_accepts_the_plans_workout_progress_shape(client_for_lifter, session):
    # What the app sends today: the plan's WorkoutProgress, a count of exercises done.
    plan_shape = {
        "workout_id": str(session.id),
        "completed_exercises": 2,
        "total_exercises": 3,
        "duration": 25,
        "calories_burned": 180,
        "timestamp": timezone.now().isoformat(),
    }

    response = client_for_lifter.post(progress_url(session.id), plan_shape, format="json")

    assert response.status_code == 201
    assert response["Location"] == f"http://testserver{progress_url(session.id)}"
    body = response.json()
    assert (body["completed_exercises"], body["total_exercises"]) == (2, 3)
    assert (body["duration"], body["calories_burned"]) == (25, 180)
    done = Exercise.objects.filter(workout=session, completed=True)
    assert set(done.values_list("name", flat=True)) == {"Squat", "Lunge"}  # the first two


def test_progress_count_and_references_together_mark_each_exercise_once(client_for_lifter, session):
    body = {"completed_exercises": 3, "exercises": [0]}

    response = client_for_lifter.post(progress_url(session.id), body, format="json")

    assert response.json()["completed_exercises"] == 3
    session.refresh_from_db()
    assert session.completed is True
    assert len(WorkoutProgress.objects.get().marked["exercises"]) == 3


def test_progress_on_sets_completes_exercise_when_every_set_is_done(client_for_lifter, session):
    url = progress_url(session.id)

    partial = client_for_lifter.post(
        url, {"sets": [{"exercise": 2, "set": 0}, {"exercise": 2, "set": 1}]}, format="json"
    ).json()
    press = Exercise.objects.get(workout=session, name="Press")
    finished = client_for_lifter.post(
        url, {"sets": [{"exercise": str(press.id), "set": 2}]}, format="json"
    ).json()

    assert partial["completed_exercises"] == 0
    assert finished["completed_exercises"] == 1
    press.refresh_from_db()
    assert press.completed is True
    assert list(press.set_logs.values_list("completed", flat=True)) == [True, True, True]


def test_progress_completes_workout_when_all_exercises_are_done(client_for_lifter, session):
    url = progress_url(session.id)
    client_for_lifter.post(url, {"exercises": [0], "duration": 20}, format="json")
    moment = (timezone.now() - timedelta(minutes=1)).replace(microsecond=0)

    body = client_for_lifter.post(
        url, {"exercises": [1, 2], "duration": 50, "timestamp": moment.isoformat()}, format="json"
    ).json()

    assert body["completed_exercises"] == body["total_exercises"] == 3
    session.refresh_from_db()
    assert session.completed is True
    assert session.completed_at == moment
    assert session.duration == 50
    press = session.exercises.get(name="Press")
    assert all(press.set_logs.values_list("completed", flat=True))


def test_progress_is_kept_as_history_newest_first(client_for_lifter, session):
    url = progress_url(session.id)
    client_for_lifter.post(url, {"exercises": [0], "duration": 10}, format="json")
    client_for_lifter.post(url, {"exercises": [1], "duration": 25}, format="json")
    client_for_lifter.post(url, {"calories_burned": 190}, format="json")

    body = client_for_lifter.get(url).json()

    assert body["total"] == 3
    history = [
        (e["completed_exercises"], e["duration"], e["calories_burned"], e["calories_estimated"])
        for e in body["items"]
    ]
    # Estimates: 3.5 MET x 80 kg x 10/60 h = 46.7 and x 25/60 h = 116.7 kcal.
    assert history == [(2, 25, 190, False), (2, 25, 117, True), (1, 10, 47, True)]
    assert all(e["total_exercises"] == 3 for e in body["items"])
    assert all(e["workout_id"] == str(session.id) for e in body["items"])


def test_progress_estimates_calories_from_elapsed_time_until_given(client_for_lifter, session):
    url = progress_url(session.id)

    first = client_for_lifter.post(url, {"duration": 30}, format="json").json()
    given = client_for_lifter.post(url, {"calories_burned": 190}, format="json").json()
    later = client_for_lifter.post(url, {"duration": 45}, format="json").json()

    # Strength is 3.5 MET; the lifter weighs 80 kg: 3.5 x 80 x 0.5 h = 140 kcal.
    assert (first["calories_burned"], first["calories_estimated"]) == (140, True)
    assert (given["calories_burned"], given["calories_estimated"]) == (190, False)
    # A figure the user gave is theirs: more elapsed time does not overwrite it.
    assert (later["calories_burned"], later["calories_estimated"]) == (190, False)
    assert later["duration"] == 45


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"exercises": [3]},
        {"exercises": [str(uuid.uuid4())]},
        {"exercises": [-1]},
        {"exercises": [True]},
        {"exercises": ["squat"]},
        {"sets": [{"exercise": 0, "set": 0}]},
        {"sets": [{"exercise": 2, "set": 3}]},
        {"sets": [{"exercise": 9, "set": 0}]},
        {"duration": -5},
        {"calories_burned": -1},
        {"timestamp": "2999-01-01T00:00:00Z"},
        {"exercises": [0], "extra": 1},
        {"completed_exercises": 4},
        {"completed_exercises": -1},
        {"completed_exercises": "two"},
    ],
)
def test_progress_rejects_bad_input_and_changes_nothing(client_for_lifter, session, body):
    before = Workout.objects.values().get(pk=session.pk)

    response = client_for_lifter.post(progress_url(session.id), body, format="json")

    assert_error(response, 400, "validation_error")
    assert Workout.objects.values().get(pk=session.pk) == before
    assert not Exercise.objects.filter(workout=session, completed=True).exists()
    assert not WorkoutProgress.objects.exists()


def test_progress_on_deleted_workout_is_404(client_for_lifter, session):
    client_for_lifter.delete(f"/api/v1/workouts/{session.id}")

    response = client_for_lifter.post(progress_url(session.id), {"exercises": [0]}, format="json")

    assert response.status_code == 404
    assert client_for_lifter.get(progress_url(session.id)).status_code == 404
