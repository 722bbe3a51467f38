"""Flows that cross apps, the way the mobile app drives them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.food.factories import FoodLogFactory
from tests.workouts.factories import create_workout

pytestmark = pytest.mark.django_db


def test_user_stats_streak_joins_food_and_workout_days(auth_client, user):
    now = timezone.now()
    create_workout(user, created_at=(now - timedelta(days=2)).isoformat(), calories_burned=300)
    FoodLogFactory(owner=user, timestamp=now - timedelta(days=1))
    create_workout(user, created_at=now.isoformat(), calories_burned=200)
    FoodLogFactory(owner=user, timestamp=now - timedelta(days=5))

    stats = auth_client.get("/api/v1/users/stats").json()

    assert stats["streak_days"] == 3
    assert stats["total_workouts"] == 2
    assert stats["total_calories_burned"] == 500
    assert stats["total_food_logs"] == 2
    assert {"first_food_log", "first_workout"} <= set(stats["achievements"])


def test_new_user_journey_register_log_and_read_back(api_client):
    registered = api_client.post(
        "/api/v1/auth/register",
        {"email": "journey@example.com", "password": "A-long-journey-42", "name": "Jo"},
        format="json",
    ).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {registered['access_token']}")

    food = api_client.post(
        "/api/v1/food/logs",
        {"name": "Oats", "calories": 350, "protein": 12, "carbs": 60, "fat": 6},
        format="json",
    )
    workout = api_client.post(
        "/api/v1/workouts", {"name": "Run", "type": "cardio", "duration": 30}, format="json"
    )
    assert food.status_code == workout.status_code == 201

    profile = api_client.get("/api/v1/users/profile").json()
    assert profile["stats"]["total_food_logs"] == 1
    assert profile["stats"]["total_workouts"] == 1
    assert profile["stats"]["streak_days"] == 1
