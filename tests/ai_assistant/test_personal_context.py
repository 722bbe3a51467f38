"""The coach's view of the caller: compact, bounded, and only their own."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from ai_assistant.personal_context import (
    MAX_FACTS_CHARS,
    build_snapshot,
    current_facts,
    facts,
    render_facts,
)
from tests.food.factories import FoodLogFactory
from tests.workouts.factories import create_workout, exercise_payload

pytestmark = pytest.mark.django_db


def busy_week(user, workouts=12):
    now = timezone.now()
    for index in range(workouts):
        create_workout(
            user,
            name=f"Session {index} " + "n" * 200,
            notes="Felt strong " * 40,
            created_at=(now - timedelta(hours=12 * index)).isoformat(),
            exercises=[
                exercise_payload(f"Exercise {index}-{n} " + "e" * 60, sets=3, reps=8)
                for n in range(12)
            ],
        )
    for index in range(20):
        FoodLogFactory(
            owner=user, name="Meal " + "m" * 250, timestamp=now - timedelta(minutes=index)
        )


def test_facts_summarise_food_and_workouts_as_numbers(user):
    now = timezone.now()
    FoodLogFactory(owner=user, calories=300, timestamp=now)
    FoodLogFactory(owner=user, calories=200, timestamp=now)
    create_workout(user, type="cardio", duration=30, calories_burned=250, exercises=[])

    data = facts(build_snapshot(user))

    assert data["today_food"]["eaten"]["calories"] == 500
    assert data["today_food"]["logs"] == 2
    assert data["food_last_7_days"]["columns"] == [
        "date",
        "calories",
        "protein",
        "carbs",
        "fat",
        "logs",
    ]
    assert data["food_last_7_days"]["rows"][-1][1:] == [500, 40, 100, 20, 2]
    week = data["workouts_last_7_days"]
    assert (week["count"], week["minutes"], week["calories_burned"]) == (1, 30, 250)
    assert week["by_type"] == {"cardio": 1}
    assert data["now"]["timezone"] == "UTC"


def test_facts_cut_user_text_short(user):
    busy_week(user, workouts=1)

    data = facts(build_snapshot(user))

    session = data["workouts_last_7_days"]["sessions"][0]
    assert len(session["name"]) <= 60
    assert len(session["notes"]) <= 100
    assert len(session["exercises"]) == 8
    assert len(data["today_food"]["meals"]) == 10
    assert all(len(meal["name"]) <= 60 for meal in data["today_food"]["meals"])


def test_render_facts_stays_within_bound_and_valid_json(user):
    busy_week(user)
    data = facts(build_snapshot(user))
    assert len(json.dumps(data)) > MAX_FACTS_CHARS

    text = render_facts(data)

    assert len(text) <= MAX_FACTS_CHARS
    rendered = json.loads(text)
    assert rendered["today_food"]["eaten"] == data["today_food"]["eaten"]
    assert rendered["food_last_7_days"] == data["food_last_7_days"]
    assert all("notes" not in session for session in rendered["workouts_last_7_days"]["sessions"])


def test_render_facts_escapes_angle_brackets(user):
    FoodLogFactory(owner=user, name="<script>", timestamp=timezone.now())

    text = render_facts(facts(build_snapshot(user)))

    assert "<" not in text
    assert json.loads(text)["today_food"]["meals"][0]["name"] == "<script>"


def test_build_snapshot_queries_do_not_grow_with_history(user, django_assert_max_num_queries):
    busy_week(user, workouts=2)
    with django_assert_max_num_queries(12) as few:
        build_snapshot(user)
    busy_week(user, workouts=10)

    with django_assert_max_num_queries(len(few.captured_queries)):
        build_snapshot(user)


# The writes commit for real: that is when the cached part is dropped.
@pytest.mark.django_db(transaction=True)
def test_current_facts_are_the_snapshots_facts_and_cached_until_a_write_commits(
    user, django_assert_num_queries
):
    busy_week(user, workouts=2)
    now = timezone.now()
    assert current_facts(user, now=now) == facts(build_snapshot(user, now=now))

    with django_assert_num_queries(0):
        again = current_facts(user, now=now)
    assert again == facts(build_snapshot(user, now=now))

    FoodLogFactory(owner=user, name="Late snack", calories=333, timestamp=now)
    fresh = current_facts(user, now=now)
    assert fresh == facts(build_snapshot(user, now=now))
    assert "Late snack" in [meal["name"] for meal in fresh["today_food"]["meals"]]


def test_current_facts_read_the_profile_and_the_day_afresh(user, django_assert_num_queries):
    now = timezone.now()
    current_facts(user, now=now)
    User.objects.filter(pk=user.pk).update(weight_kg=91)
    user.refresh_from_db()

    with django_assert_num_queries(0):
        cached = current_facts(user, now=now)
    assert cached["profile"]["weight_kg"] == 91

    tomorrow = now + timedelta(days=1)
    assert current_facts(user, now=tomorrow) == facts(build_snapshot(user, now=tomorrow))
    assert current_facts(user, now=tomorrow)["now"]["date"] == tomorrow.date().isoformat()
