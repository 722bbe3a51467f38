"""The nightly rollups: database aggregates over one UTC day, written idempotently so any
past day can be rolled up again (a late event, a fixed bug) with the same result.

A day is the UTC calendar day: [00:00, 24:00) UTC, whatever the user's own zone.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, Count, F, Q, Sum, Value, When
from django.utils import timezone

from ai_assistant.models import AIUsage, RecognitionJob
from analytics import requests
from analytics.events import FEATURES, ServerEvent
from analytics.models import (
    AIUsageDaily,
    DailyActivity,
    Event,
    FeatureAdoption,
    RecognitionDaily,
    RetentionCohort,
    RouteDaily,
)

RETENTION_DAYS = (1, 7, 30)
ADOPTION_WINDOWS = (7, 30)
_MTOK = Decimal(1_000_000)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _window(first: date, last: date) -> Q:
    """Events from the start of `first` to the end of `last` (UTC days)."""
    return Q(occurred_at__gte=day_start(first), occurred_at__lt=day_start(last + timedelta(days=1)))


def _distinct_actors(condition: Q) -> int:
    return Event.objects.filter(condition).aggregate(n=Count("actor", distinct=True))["n"]


@dataclass(frozen=True)
class Prices:
    input_per_mtok: Decimal
    output_per_mtok: Decimal

    @classmethod
    def from_settings(cls) -> "Prices":
        # The metrics' cost estimate reads the same settings: one price list.
        return cls(
            Decimal(str(settings.AI_PRICE_INPUT_PER_MILLION)),
            Decimal(str(settings.AI_PRICE_OUTPUT_PER_MILLION)),
        )

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        total = input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok
        return (total / _MTOK).quantize(Decimal("0.000001"))


@transaction.atomic
def roll_up_day(day: date) -> None:
    """Every rollup for `day`, replacing what an earlier run wrote for it."""
    _activity(day)
    # Retention figures of a cohort depend only on events, so they are computed up to the
    # last complete day whichever day is rolled up: re-running an old day never blanks a
    # D7 that a later run filled in.
    as_of = max(day, timezone.now().date() - timedelta(days=1))
    for offset in (0, *RETENTION_DAYS):
        _retention(day - timedelta(days=offset), as_of=as_of)
    for window in ADOPTION_WINDOWS:
        _adoption(day, window)
    _ai_usage(day)
    _recognition(day)
    _routes(day)


def _activity(day: date) -> None:
    DailyActivity.objects.update_or_create(
        day=day,
        defaults={
            "dau": _distinct_actors(_window(day, day)),
            "wau": _distinct_actors(_window(day - timedelta(days=6), day)),
            "mau": _distinct_actors(_window(day - timedelta(days=29), day)),
            "new_users": _distinct_actors(_window(day, day) & Q(name=ServerEvent.USER_SIGNED_UP)),
        },
    )


def _retention(cohort_day: date, *, as_of: date) -> None:
    """The cohort of `cohort_day`: its size, and for each N whose day has come by `as_of`
    how many of it were active on day N exactly."""
    cohort = Event.objects.filter(
        _window(cohort_day, cohort_day), name=ServerEvent.USER_SIGNED_UP
    ).values("actor")
    size = _distinct_actors(_window(cohort_day, cohort_day) & Q(name=ServerEvent.USER_SIGNED_UP))
    if not size:
        RetentionCohort.objects.filter(cohort_day=cohort_day).delete()
        return
    retained = {}
    for n in RETENTION_DAYS:
        target = cohort_day + timedelta(days=n)
        retained[f"d{n}"] = (
            _distinct_actors(_window(target, target) & Q(actor__in=cohort))
            if target <= as_of
            else None
        )
    RetentionCohort.objects.update_or_create(
        cohort_day=cohort_day, defaults={"size": size, **retained}
    )


def _adoption(day: date, window: int) -> None:
    condition = _window(day - timedelta(days=window - 1), day)
    active = _distinct_actors(condition)
    feature_of = Case(
        *(When(name__in=names, then=Value(feature)) for feature, names in FEATURES.items()),
        output_field=CharField(),
    )
    users = dict(
        Event.objects.filter(condition, name__in=set().union(*FEATURES.values()))
        .annotate(feature=feature_of)
        .values("feature")
        .annotate(users=Count("actor", distinct=True))
        .values_list("feature", "users")
    )
    for feature in FEATURES:
        FeatureAdoption.objects.update_or_create(
            day=day,
            window_days=window,
            feature=feature,
            defaults={"users": users.get(feature, 0), "active_users": active},
        )


def _ai_usage(day: date) -> None:
    prices = Prices.from_settings()
    rows = (
        AIUsage.objects.filter(
            created_at__gte=day_start(day), created_at__lt=day_start(day + timedelta(days=1))
        )
        .values("model")
        .annotate(
            calls=Count("pk"),
            failed=Count("pk", filter=~Q(outcome=AIUsage.Outcome.OK)),
            input_tokens=Sum("prompt_tokens"),
            # Thinking tokens are billed as output.
            output_tokens=Sum(F("output_tokens") + F("thinking_tokens")),
        )
    )
    models = []
    for row in rows:
        models.append(row["model"])
        AIUsageDaily.objects.update_or_create(
            day=day,
            model=row["model"],
            defaults={
                "calls": row["calls"],
                "failed_calls": row["failed"],
                "input_tokens": row["input_tokens"] or 0,
                "output_tokens": row["output_tokens"] or 0,
                "cost_usd": prices.cost(row["input_tokens"] or 0, row["output_tokens"] or 0),
            },
        )
    AIUsageDaily.objects.filter(day=day).exclude(model__in=models).delete()


def _recognition(day: date) -> None:
    jobs = RecognitionJob.objects.filter(
        finished_at__gte=day_start(day), finished_at__lt=day_start(day + timedelta(days=1))
    ).aggregate(
        finished=Count("pk"),
        succeeded=Count("pk", filter=Q(status=RecognitionJob.Status.SUCCEEDED)),
    )
    RecognitionDaily.objects.update_or_create(day=day, defaults=jobs)


def _routes(day: date) -> None:
    """From the request counters (kept three days): a day older than that keeps the rows
    its last run wrote."""
    counts = requests.counts_for(day)
    if not counts:
        return
    RouteDaily.objects.filter(day=day).delete()
    RouteDaily.objects.bulk_create(
        RouteDaily(
            day=day,
            method=row.method,
            route=row.route[:255],
            requests=row.requests,
            errors=row.errors,
            p95_ms=row.quantile_ms(0.95),
        )
        for row in counts
    )
