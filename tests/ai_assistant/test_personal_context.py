"""The coach's view of the caller: compact, bounded, and only their own."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from ai_assistant.personal_context import (
    MAX_FACTS_CHARS,
    build_snapshot,
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
