from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.asserts import assert_error
from tests.food.factories import FoodLogFactory

pytestmark = pytest.mark.django_db

STATS = "/api/v1/food/stats"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def day_of(body: dict, iso: str) -> dict:
    return next(entry for entry in body["days"] if entry["date"] == iso)


def test_stats_sum_each_day_and_meal_type(auth_client, user, other_user):
    FoodLogFactory(
        owner=user,
        timestamp=at(20, 8),
        meal_type="breakfast",
        calories=300,
        protein=Decimal("10.5"),
        fiber=Decimal("4"),
        sugar=None,
    )
    FoodLogFactory(owner=user, timestamp=at(20, 13), meal_type="lunch", calories=700)
    FoodLogFactory(owner=user, timestamp=at(21, 19), meal_type=None, calories=500)
    FoodLogFactory(owner=user, timestamp=at(21, 20), calories=999, deleted_at=timezone.now())
    FoodLogFactory(owner=other_user, timestamp=at(21, 20), calories=999)
    FoodLogFactory(owner=user, timestamp=at(23, 12), calories=999)

    response = auth_client.get(STATS, {"from": "2026-11-19", "to": "2026-11-22"})

    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2026-11-19" and body["to"] == "2026-11-22" and body["tz"] == "UTC"
    assert [entry["date"] for entry in body["days"]] == [
        "2026-11-19",
        "2026-11-20",
        "2026-11-21",
        "2026-11-22",
    ]
    day = day_of(body, "2026-11-20")
    assert day["calories"] == 1000 and day["logs"] == 2
    assert day["protein"] == 30.5 and day["fiber"] == 4 and day["sugar"] == 0
    assert day_of(body, "2026-11-19")["logs"] == 0
    assert body["totals"]["calories"] == 1500 and body["totals"]["logs"] == 3
    assert body["days_logged"] == 2 and body["days_in_range"] == 4
    assert body["averages"]["calories"] == 750.0
    assert body["by_meal_type"]["breakfast"]["calories"] == 300
    assert body["by_meal_type"]["lunch"]["calories"] == 700
    assert body["by_meal_type"]["unspecified"]["calories"] == 500
    assert body["by_meal_type"]["dinner"]["logs"] == 0


def test_stats_cut_days_in_users_zone_and_tz_parameter_wins(auth_client, user):
    user.timezone = "Europe/Berlin"
    user.save()
    # 23:30 UTC on the 20th is 00:30 on the 21st in Berlin (UTC+1).
    FoodLogFactory(owner=user, timestamp=at(20, 23, 30), calories=400)

    in_berlin = auth_client.get(STATS, {"from": "2026-11-20", "to": "2026-11-21"}).json()
    in_utc = auth_client.get(STATS, {"from": "2026-11-20", "to": "2026-11-21", "tz": "UTC"}).json()

    assert in_berlin["tz"] == "Europe/Berlin"
    assert day_of(in_berlin, "2026-11-21")["calories"] == 400
    assert day_of(in_berlin, "2026-11-20")["calories"] == 0
    assert day_of(in_utc, "2026-11-20")["calories"] == 400


def test_stats_range_edges_follow_the_zone(auth_client, user):
    # In Tokyo (UTC+9) the 20th runs from 15:00Z on the 19th to 15:00Z on the 20th.
    FoodLogFactory(owner=user, timestamp=at(19, 14, 59), calories=1)
    FoodLogFactory(owner=user, timestamp=at(19, 15, 0), calories=10)
    FoodLogFactory(owner=user, timestamp=at(20, 14, 59), calories=100)
    FoodLogFactory(owner=user, timestamp=at(20, 15, 0), calories=1000)

    body = auth_client.get(
        STATS, {"from": "2026-11-20", "to": "2026-11-20", "tz": "Asia/Tokyo"}
    ).json()

    assert body["totals"]["calories"] == 110


def test_stats_default_to_the_last_seven_days(auth_client, user):
    FoodLogFactory(owner=user, calories=321)

    body = auth_client.get(STATS).json()

    today = timezone.now().astimezone(ZoneInfo("UTC")).date()
    assert body["to"] == today.isoformat()
    assert body["from"] == (today - timedelta(days=6)).isoformat()
    assert len(body["days"]) == 7
    assert body["days"][-1]["calories"] == 321


def test_stats_report_goals_and_progress_from_preferences(auth_client, user):
    user.preferences = {"daily_goals": {"calories": 2000, "protein": 100}}
    user.save()
    FoodLogFactory(owner=user, timestamp=at(20, 12), calories=1500, protein=Decimal("50"))

    body = auth_client.get(STATS, {"from": "2026-11-20", "to": "2026-11-21"}).json()

    assert body["goal_source"] == "preferences"
    assert body["goals"]["calories"] == 2000 and body["goals"]["protein"] == 100
    assert day_of(body, "2026-11-20")["progress"]["calories"] == 75.0
    assert day_of(body, "2026-11-20")["progress"]["protein"] == 50.0
    assert day_of(body, "2026-11-21")["progress"]["calories"] == 0
    assert body["progress"]["calories"] == 75.0


def test_stats_report_profile_goals_when_profile_is_complete(auth_client, user):
    user.weight_kg = Decimal("70")
    user.height_cm = Decimal("175")
    user.birthday = date(1990, 1, 1)
    user.gender = "female"
    user.save()

    body = auth_client.get(STATS).json()

    assert body["goal_source"] == "profile"
    assert body["goals"]["protein"] == 84.0


def test_stats_report_default_goals_without_profile(auth_client):
    body = auth_client.get(STATS).json()

    assert body["goal_source"] == "default"
    assert body["goals"]["calories"] == 2000


@pytest.mark.parametrize(
    "params",
    [
        {"tz": "Mars/Olympus"},
        {"from": "2026-11-22", "to": "2026-11-20"},
        {"from": "2025-01-01", "to": "2026-11-20"},
        {"from": "20 Nov"},
    ],
)
def test_stats_answer_400_for_invalid_parameters(auth_client, params):
    assert_error(auth_client.get(STATS, params), 400, "validation_error")


@pytest.mark.parametrize(
    ("start", "end"), [("2026-11-20", "2026-11-20"), ("2025-11-21", "2026-11-20")]
)
def test_stats_use_fixed_number_of_queries(
    auth_client, user, start, end, django_assert_max_num_queries
):
    for day in range(1, 21):
        FoodLogFactory(owner=user, timestamp=at(day, 12), meal_type="snack")

    with django_assert_max_num_queries(2):
        response = auth_client.get(STATS, {"from": start, "to": end})

    assert response.status_code == 200
