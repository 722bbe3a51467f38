"""The rollups on seeded events against figures worked out by hand (in the comments)."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from ai_assistant.models import AIUsage, RecognitionJob
from analytics import requests, rollups
from analytics.models import (
    AIUsageDaily,
    DailyActivity,
    Event,
    FeatureAdoption,
    RecognitionDaily,
    RetentionCohort,
    RouteDaily,
)
from analytics.tasks import nightly, roll_up_day
from fitness.observability.requests import UNMATCHED_ROUTE
from tests.factories import UserFactory

TODAY = timezone.now().date()
R = TODAY - timedelta(days=3)  # the day rolled up
C = R - timedelta(days=7)  # a signup cohort


def at(day, hour=12, minute=0, second=0, zone=UTC):
    return datetime.combine(day, time(hour, minute, second), tzinfo=zone)


def seed(actor, name, moment):
    Event.objects.create(actor=actor, name=name, origin="server", occurred_at=moment)


@pytest.fixture
def events(db):
    seed("A", "user_signed_up", at(C, 9))
    seed("A", "food_logged", at(C + timedelta(days=1), 12))
    seed("A", "chat_message_sent", at(R, 8))
    # 20:00 in New York on day C is 01:00 UTC on C+1: B belongs to the next cohort.
    seed("B", "user_signed_up", at(C, 20, zone=ZoneInfo("America/New_York")))
    seed("C", "user_signed_up", at(C, 15))
    seed("D", "food_logged", at(R - timedelta(days=3), 10))
    seed("D", "workout_completed", at(R, 10))
    seed("E", "screen_viewed", at(R, 23, 59, 59))
    seed("E", "app_opened", at(R + timedelta(days=1), 0, 0, 0))  # the next UTC day
    seed("F", "app_opened", at(R - timedelta(days=20)))


def test_active_users(events):
    rollups.roll_up_day(R)
    row = DailyActivity.objects.get(day=R)
    # DAU: A, D, E. WAU (R-6..R): A, B (C+1 01:00 UTC), D, E. MAU: all six.
    assert (row.dau, row.wau, row.mau, row.new_users) == (3, 4, 6, 0)


def test_new_users_on_the_utc_day(events):
    rollups.roll_up_day(C)
    rollups.roll_up_day(C + timedelta(days=1))
    assert DailyActivity.objects.get(day=C).new_users == 2  # A and C
    following = DailyActivity.objects.get(day=C + timedelta(days=1))
    assert (following.dau, following.new_users) == (2, 1)  # A's log, B's signup


def test_retention_by_cohort(events):
    rollups.roll_up_day(R)
    cohort = RetentionCohort.objects.get(cohort_day=C)
    # A and C signed up on C; A came back on C+1 and on C+7 (= R); day 30 is still ahead.
    assert (cohort.size, cohort.d1, cohort.d7, cohort.d30) == (2, 1, 1, None)
    rollups.roll_up_day(C + timedelta(days=1))
    b = RetentionCohort.objects.get(cohort_day=C + timedelta(days=1))
    # B never came back; C+8 = R+1 is complete (yesterday is R+2), so 0, not unknown.
    assert (b.size, b.d1, b.d7, b.d30) == (1, 0, 0, None)


def test_rerunning_an_earlier_day_keeps_a_later_figure(events):
    rollups.roll_up_day(R)
    rollups.roll_up_day(C)
    cohort = RetentionCohort.objects.get(cohort_day=C)
    assert (cohort.size, cohort.d1, cohort.d7) == (2, 1, 1)


def test_feature_adoption(events):
    rollups.roll_up_day(R)
    week = {
        row.feature: (row.users, row.active_users)
        for row in FeatureAdoption.objects.filter(day=R, window_days=7)
    }
    # Active in R-6..R: A, B, D, E. Food: A (C+1) and D; chat: A; workouts: D.
    assert week == {
        "food_logging": (2, 4),
        "photo_recognition": (0, 4),
        "ai_chat": (1, 4),
        "recommendations": (0, 4),
        "workouts": (1, 4),
        "form_check": (0, 4),
        "social": (0, 4),
    }
    month = FeatureAdoption.objects.get(day=R, window_days=30, feature="food_logging")
    assert (month.users, month.active_users, month.share) == (2, 6, 2 / 6)


def _usage(model, moment, prompt=0, output=0, thinking=0, outcome="ok"):
    row = AIUsage.objects.create(
        endpoint="food.analyze_text",
        provider="gemini",
        model=model,
        prompt_tokens=prompt,
        output_tokens=output,
        thinking_tokens=thinking,
        total_tokens=prompt + output + thinking,
        latency_ms=100,
        outcome=outcome,
    )
    AIUsage.objects.filter(pk=row.pk).update(created_at=moment)


def test_ai_calls_tokens_and_cost_per_day(db, settings):
    settings.AI_PRICE_INPUT_PER_MILLION = 0.30
    settings.AI_PRICE_OUTPUT_PER_MILLION = 2.50
    _usage("gemini-2.5-flash", at(R, 1), prompt=1000, output=200)
    _usage("gemini-2.5-flash", at(R, 2), prompt=3000, output=500, thinking=300)
    _usage("gemini-2.5-flash", at(R, 3), outcome="timeout")
    _usage("gemini-2.5-pro", at(R, 4), prompt=1_000_000)
    _usage("gemini-2.5-pro", at(R + timedelta(days=1), 0))  # the next day
    rollups.roll_up_day(R)
    rows = {
        row.model: (row.calls, row.failed_calls, row.input_tokens, row.output_tokens, row.cost_usd)
        for row in AIUsageDaily.objects.filter(day=R)
    }
    # Flash: 4000 in x 0.30 + 1000 out (thinking billed as output) x 2.50, per million.
    assert rows == {
        "gemini-2.5-flash": (3, 1, 4000, 1000, Decimal("0.003700")),
        "gemini-2.5-pro": (1, 0, 1_000_000, 0, Decimal("0.300000")),
    }


def test_recognition_success_rate(db):
    owner = UserFactory()
    for status, day in [
        ("succeeded", R),
        ("succeeded", R),
        ("succeeded", R),
        ("failed", R),
        ("failed", R + timedelta(days=1)),
    ]:
        RecognitionJob.objects.create(owner=owner, status=status, finished_at=at(day, 6))
    RecognitionJob.objects.create(owner=owner, status="running")
    rollups.roll_up_day(R)
    row = RecognitionDaily.objects.get(day=R)
    assert (row.finished, row.succeeded, row.success_rate) == (4, 3, 0.75)


def test_route_error_rate_and_p95(db):
    for _ in range(19):
        requests.record(method="GET", route="/api/v1/food/logs", status=200, duration_ms=3)
    requests.record(method="GET", route="/api/v1/food/logs", status=200, duration_ms=700)
    for ms in (20, 20, 20, 20, 20, 300, 300, 300, 300, 300):
        requests.record(
            method="POST",
            route="/api/v1/ai/food/recognize",
            status=503 if ms == 20 else 202,
            duration_ms=ms,
        )
    rollups.roll_up_day(TODAY)
    rows = {
        (row.method, row.route): (row.requests, row.errors, row.p95_ms)
        for row in RouteDaily.objects.filter(day=TODAY)
    }
    # 19 of 20 in the first bucket (0-5 ms): rank 19 is its top, 5 ms. The second route:
    # rank 9.5 is 4.5 of 5 into the 250-500 ms bucket: 250 + 0.9 x 250 = 475 ms.
    assert rows == {
        ("GET", "/api/v1/food/logs"): (20, 0, 5),
        ("POST", "/api/v1/ai/food/recognize"): (10, 5, 475),
    }


def test_requests_are_counted_under_their_route_template(auth_client, user):
    from tests.food.factories import FoodLogFactory

    log = FoodLogFactory(owner=user)
    auth_client.get(f"/api/v1/food/logs/{log.pk}")
    auth_client.get(f"/api/v1/food/logs/{log.pk}")
    auth_client.get("/api/v1/no-such-thing")
    counts = {(row.method, row.route): row.requests for row in requests.counts_for(TODAY)}
    assert counts[("GET", "/api/v1/food/logs/{log_id}")] == 2
    assert counts[("GET", UNMATCHED_ROUTE)] == 1
    assert not any(str(log.pk) in route for _, route in counts)


def test_rollups_are_rerunnable(events):
    rollups.roll_up_day(R)
    first = list(FeatureAdoption.objects.values_list("day", "window_days", "feature", "users"))
    rollups.roll_up_day(R)
    assert (
        list(FeatureAdoption.objects.values_list("day", "window_days", "feature", "users")) == first
    )
    assert DailyActivity.objects.count() == 1


def test_tasks_and_command(events):
    assert roll_up_day.apply(args=[R.isoformat()]).get() == R.isoformat()
    assert DailyActivity.objects.filter(day=R).exists()
    assert nightly.apply().get() == (TODAY - timedelta(days=1)).isoformat()
    call_command("analytics_rollup", "--day", R.isoformat(), "--days", "3")
    assert set(DailyActivity.objects.values_list("day", flat=True)) == {
        R - timedelta(days=2),
        R - timedelta(days=1),
        R,
        TODAY - timedelta(days=1),
    }
