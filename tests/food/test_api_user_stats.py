from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.food.factories import FoodLogFactory

pytestmark = pytest.mark.django_db

USER_STATS = "/api/v1/users/stats"


def test_user_stats_count_live_food_logs_and_the_logging_streak(auth_client, user, other_user):
    now = timezone.now()
    for days_ago in (0, 1, 1, 2, 4):
        FoodLogFactory(owner=user, timestamp=now - timedelta(days=days_ago))
    FoodLogFactory(owner=user, timestamp=now - timedelta(days=3), deleted_at=now)
    FoodLogFactory(owner=other_user, timestamp=now - timedelta(days=3))

    body = auth_client.get(USER_STATS).json()

    assert body["total_food_logs"] == 5
    assert body["streak_days"] == 3
    assert "first_food_log" in body["achievements"]


def test_user_stats_streak_counts_local_days(auth_client, user):
    user.timezone = "Pacific/Kiritimati"  # UTC+14: its day starts 14 hours before UTC's
    user.save()
    zone = ZoneInfo(user.timezone)
    local_noon = timezone.now().astimezone(zone).replace(hour=12, minute=0)
    for days_ago in (1, 2):
        FoodLogFactory(owner=user, timestamp=local_noon - timedelta(days=days_ago))

    body = auth_client.get(USER_STATS).json()

    # Yesterday and the day before, in the user's zone: today is still open.
    assert body["streak_days"] == 2


def test_user_stats_without_food_logs_count_zero(auth_client):
    body = auth_client.get(USER_STATS).json()

    assert body["total_food_logs"] == 0 and body["streak_days"] == 0


@pytest.mark.parametrize("count", [2, 40])
def test_user_stats_use_fixed_number_of_queries(
    auth_client, user, count, django_assert_max_num_queries
):
    now = timezone.now()
    for days_ago in range(count):
        FoodLogFactory(owner=user, timestamp=now - timedelta(days=days_ago))

    # The caller, then one aggregate per stats provider (food, workouts, social: two): none
    # per log.
    with django_assert_max_num_queries(6):
        body = auth_client.get(USER_STATS).json()

    assert body["streak_days"] == count
