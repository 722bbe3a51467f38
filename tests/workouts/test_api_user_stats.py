"""GET /users/stats counts workouts through the provider workouts registers."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.workouts.factories import create_workout

pytestmark = pytest.mark.django_db


def test_user_stats_count_workouts_calories_and_streak(auth_client, user, other_user):
    now = timezone.now()
    create_workout(user, calories_burned=300)
    create_workout(user, calories_burned=200, created_at=(now - timedelta(days=1)).isoformat())
    create_workout(user, calories_burned=50, created_at=(now - timedelta(days=3)).isoformat())
    create_workout(other_user, calories_burned=999)
    deleted = create_workout(user, calories_burned=1000)
    auth_client.delete(f"/api/v1/workouts/{deleted.id}")

    body = auth_client.get("/api/v1/users/stats").json()

    assert body["total_workouts"] == 3
    assert body["total_calories_burned"] == 550
    assert type(body["total_calories_burned"]) is int  # kcal, like every calorie figure
    assert body["streak_days"] == 2
    assert "first_workout" in body["achievements"]


def test_user_stats_streak_uses_local_days(auth_client, user):
    user.timezone = "Pacific/Auckland"
    user.save()
    zone = ZoneInfo("Pacific/Auckland")
    today = timezone.now().astimezone(zone).date()
    create_workout(user)
    for days_ago in (1, 2):
        noon = datetime.combine(today - timedelta(days=days_ago), time(12), tzinfo=zone)
        create_workout(user, created_at=noon.isoformat())

    assert auth_client.get("/api/v1/users/stats").json()["streak_days"] == 3


def test_user_stats_of_user_without_workouts(auth_client):
    body = auth_client.get("/api/v1/users/stats").json()

    assert body["total_workouts"] == 0
    assert body["total_calories_burned"] == 0
    assert body["streak_days"] == 0
