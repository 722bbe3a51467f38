"""Reads of the rollups for the staff dashboard and its CSV downloads."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Max, Sum
from django.utils import timezone

from analytics.models import (
    AIUsageDaily,
    DailyActivity,
    FeatureAdoption,
    RecognitionDaily,
    RetentionCohort,
    RouteDaily,
)


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @classmethod
    def ending(cls, last: date | None, days: int) -> "Period":
        """`days` days ending with `last`, by default the newest rolled-up day."""
        if last is None:
            newest = DailyActivity.objects.aggregate(day=Max("day"))["day"]
            last = newest or timezone.now().date() - timedelta(days=1)
        return cls(last - timedelta(days=days - 1), last)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def activity(period: Period) -> dict[date, DailyActivity]:
    rows = DailyActivity.objects.filter(day__range=(period.first, period.last))
    return {row.day: row for row in rows}


def retention(period: Period) -> list[RetentionCohort]:
    return list(RetentionCohort.objects.filter(cohort_day__range=(period.first, period.last)))


def adoption(period: Period) -> tuple[date | None, list[FeatureAdoption]]:
    """The newest day of the period with adoption figures, and its rows."""
    day = FeatureAdoption.objects.filter(day__range=(period.first, period.last)).aggregate(
        day=Max("day")
    )["day"]
    return day, list(FeatureAdoption.objects.filter(day=day)) if day else []


def ai_cost_per_day(period: Period) -> dict[date, dict]:
    rows = (
        AIUsageDaily.objects.filter(day__range=(period.first, period.last))
        .values("day")
        .annotate(cost=Sum("cost_usd"), calls=Sum("calls"), tokens=Sum("input_tokens"))
        .annotate(output=Sum("output_tokens"))
    )
    return {
        row["day"]: {
            "cost": row["cost"] or Decimal(0),
            "calls": row["calls"],
            "tokens": (row["tokens"] or 0) + (row["output"] or 0),
        }
        for row in rows
    }


def recognition(period: Period) -> dict[date, RecognitionDaily]:
    rows = RecognitionDaily.objects.filter(day__range=(period.first, period.last))
    return {row.day: row for row in rows}


def routes(period: Period, *, limit: int = 20) -> tuple[date | None, list[RouteDaily]]:
    """The newest day of the period with request figures, its busiest routes first."""
    day = RouteDaily.objects.filter(day__range=(period.first, period.last)).aggregate(
        day=Max("day")
    )["day"]
    if day is None:
        return None, []
    return day, list(RouteDaily.objects.filter(day=day).order_by("-requests", "route")[:limit])


# Each rollup's CSV: its model, the date column that the period filters, the columns.
CSV_ROLLUPS = {
    "activity": (DailyActivity, "day", ["day", "dau", "wau", "mau", "new_users"]),
    "retention": (RetentionCohort, "cohort_day", ["cohort_day", "size", "d1", "d7", "d30"]),
    "adoption": (
        FeatureAdoption,
        "day",
        ["day", "window_days", "feature", "users", "active_users"],
    ),
    "ai_usage": (
        AIUsageDaily,
        "day",
        ["day", "model", "calls", "failed_calls", "input_tokens", "output_tokens", "cost_usd"],
    ),
    "recognition": (RecognitionDaily, "day", ["day", "finished", "succeeded"]),
    "routes": (RouteDaily, "day", ["day", "method", "route", "requests", "errors", "p95_ms"]),
}


def csv_rows(name: str, period: Period) -> Iterator[list]:
    """The header, then one row per rollup row in the period (KeyError: no such rollup)."""
    model, day_field, columns = CSV_ROLLUPS[name]
    yield columns
    rows = model.objects.filter(**{f"{day_field}__range": (period.first, period.last)})
    for values in rows.order_by(*columns[:3]).values_list(*columns):
        yield ["" if value is None else value for value in values]
