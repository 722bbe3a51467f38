"""The Django admin: workouts with inline exercises."""

from decimal import Decimal

import pytest

from tests.factories import UserFactory
from tests.workouts.factories import create_workout
from workouts.models import Exercise

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_lists_workouts(staff_client, user):
    create_workout(user, name="Leg day")

    response = staff_client.get("/admin/workouts/workout/")

    assert response.status_code == 200
    assert b"Leg day" in response.content


def test_admin_change_page_shows_inline_exercises(staff_client, user):
    workout = create_workout(user)

    response = staff_client.get(f"/admin/workouts/workout/{workout.pk}/change/")

    assert response.status_code == 200
    assert b"Bench press" in response.content
    assert b"exercises-TOTAL_FORMS" in response.content


def test_admin_edit_of_an_exercise_refreshes_stats_columns(staff_client, user):
    workout = create_workout(user)
    bench, dips = workout.exercises.all()
    form = {
        "owner": str(user.pk),
        "name": workout.name,
        "type": "strength",
        "duration": "60",
        "calories_burned": str(workout.calories_burned),
        "notes": "",
        "group": "",
        "ai_form_check": "null",
        "exercises-TOTAL_FORMS": "2",
        "exercises-INITIAL_FORMS": "2",
        "exercises-MIN_NUM_FORMS": "0",
        "exercises-MAX_NUM_FORMS": "1000",
        "shares-TOTAL_FORMS": "0",
        "shares-INITIAL_FORMS": "0",
        "shares-MIN_NUM_FORMS": "0",
        "shares-MAX_NUM_FORMS": "1000",
        "progress-TOTAL_FORMS": "0",
        "progress-INITIAL_FORMS": "0",
        "progress-MIN_NUM_FORMS": "0",
        "progress-MAX_NUM_FORMS": "1000",
    }
    for index, exercise in enumerate([bench, dips]):
        prefix = f"exercises-{index}-"
        form.update(
            {
                prefix + "id": str(exercise.pk),
                prefix + "workout": str(workout.pk),
                prefix + "position": str(exercise.position),
                prefix + "name": "Heavy bench" if exercise == bench else exercise.name,
                prefix + "sets": str(exercise.sets),
                prefix + "reps": str(exercise.reps),
                prefix + "weight_kg": "120" if exercise == bench else "",
                prefix + "weight_unit": "kg" if exercise == bench else "",
                prefix + "duration": "",
                prefix + "distance": "",
                prefix + "notes": "",
            }
        )

    response = staff_client.post(f"/admin/workouts/workout/{workout.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    bench = Exercise.objects.get(pk=bench.pk)
    assert bench.name_key == "heavy bench"
    assert bench.volume_kg == Decimal("1800")  # 3 x 5 x 120
    assert bench.top_weight_kg == Decimal("120")
    workout.refresh_from_db()
    assert workout.volume_kg == Decimal("1800")
