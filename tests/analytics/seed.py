"""Rollup rows with round numbers, for the dashboard's tests (Django's client and Chromium)."""

from datetime import date
from decimal import Decimal

from analytics.models import (
    AIUsageDaily,
    DailyActivity,
    FeatureAdoption,
    RecognitionDaily,
    RetentionCohort,
    RouteDaily,
)

LAST = date(2026, 11, 20)
QUERY = f"?days=30&last={LAST.isoformat()}"


def seed_rollups() -> None:
    for offset, day in enumerate((date(2026, 11, 18), date(2026, 11, 19), LAST)):
        DailyActivity.objects.create(
            day=day, dau=11 + offset, wau=40 + offset, mau=100 + offset, new_users=3 + offset
        )
    RetentionCohort.objects.create(cohort_day=date(2026, 11, 1), size=10, d1=6, d7=3, d30=None)
    for window, feature, users, active in [
        (7, "food_logging", 9, 12),
        (7, "ai_chat", 3, 12),
        (30, "food_logging", 50, 100),
    ]:
        FeatureAdoption.objects.create(
            day=LAST, window_days=window, feature=feature, users=users, active_users=active
        )
    for day, model, cost in [
        (date(2026, 11, 19), "gemini-2.5-flash", "0.0037"),
        (LAST, "gemini-2.5-flash", "1.25"),
        (LAST, "gemini-2.5-pro", "0.30"),
    ]:
        AIUsageDaily.objects.create(
            day=day,
            model=model,
            calls=7,
            failed_calls=1,
            input_tokens=1000,
            output_tokens=100,
            cost_usd=Decimal(cost),
        )
    RecognitionDaily.objects.create(day=LAST, finished=4, succeeded=3)
    RouteDaily.objects.create(
        day=LAST, method="GET", route="/api/v1/food/logs", requests=20, errors=0, p95_ms=5
    )
    RouteDaily.objects.create(
        day=LAST,
        method="POST",
        route="/api/v1/ai/food/recognize",
        requests=10,
        errors=5,
        p95_ms=475,
    )
