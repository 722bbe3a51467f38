"""Challenge scores, computed by the database from the participants' own data.

Sums (count, minutes, calories, volume) are one grouped query. Day counts group twice
(per participant and local day in the challenge's time zone, then per participant),
which the ORM cannot nest, so the outer level wraps the ORM's SQL by hand.

Every score comes with `reached_at`, when the data that makes it up was last added to
(for day counts: when the last counted day first qualified), which breaks ties.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, DecimalField, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from food.models import FoodLog
from social.models import Challenge, ChallengeParticipant, ChallengeType
from workouts.models import Workout

WORKOUT_TYPES = {
    ChallengeType.WORKOUT_COUNT,
    ChallengeType.WORKOUT_MINUTES,
    ChallengeType.CALORIES_BURNED,
    ChallengeType.TRAINING_VOLUME,
    ChallengeType.ACTIVE_DAYS,
}
FOOD_TYPES = {ChallengeType.FOOD_LOGGING_DAYS, ChallengeType.PROTEIN_GOAL_DAYS}


@dataclass(frozen=True)
class Score:
    score: Decimal
    reached_at: datetime | None


def _participants(challenge: Challenge):
    return ChallengeParticipant.objects.filter(challenge=challenge).values("user_id")


def _workouts(challenge: Challenge) -> QuerySet[Workout]:
    # A workout counts by when it took place (`created_at`), whenever it was logged.
    return Workout.objects.filter(
        deleted_at__isnull=True,
        completed=True,
        owner_id__in=_participants(challenge),
        created_at__gte=challenge.start_date,
        created_at__lt=challenge.end_date,
    ).order_by()


def _food_logs(challenge: Challenge) -> QuerySet[FoodLog]:
    return FoodLog.objects.filter(
        deleted_at__isnull=True,
        owner_id__in=_participants(challenge),
        timestamp__gte=challenge.start_date,
        timestamp__lt=challenge.end_date,
    ).order_by()


_SUMS = {
    ChallengeType.WORKOUT_COUNT: (Count("id"), Q()),
    ChallengeType.WORKOUT_MINUTES: (Sum("duration"), Q(duration__gt=0)),
    ChallengeType.CALORIES_BURNED: (Sum("calories_burned"), Q(calories_burned__gt=0)),
    ChallengeType.TRAINING_VOLUME: (Sum("volume_kg"), Q(volume_kg__gt=0)),
}


def _sum_scores(challenge: Challenge) -> dict[uuid.UUID, Score]:
    total, counts = _SUMS[challenge.type]
    rows = (
        _workouts(challenge)
        .filter(counts)
        .values("owner_id")
        .annotate(score=total, reached=Max("created_at"))
    )
    return {row["owner_id"]: Score(_decimal(row["score"]), row["reached"]) for row in rows}


def _day_scores(days: QuerySet) -> dict[uuid.UUID, Score]:
    """`days` has one row per (owner_id, day) with `first`, when the day qualified."""
    sql, params = days.query.sql_with_params()
    # S608: the inner SQL is the ORM's own, with the values as parameters.
    outer = f"SELECT owner_id, COUNT(*), MAX(first) FROM ({sql}) AS days GROUP BY owner_id"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(outer, params)
        rows = cursor.fetchall()
    return {
        _uuid(owner_id): Score(Decimal(count), _datetime(reached))
        for owner_id, count, reached in rows
    }


def _active_days(challenge: Challenge) -> dict[uuid.UUID, Score]:
    zone = ZoneInfo(challenge.timezone)
    days = (
        _workouts(challenge)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("owner_id", "day")
        .annotate(first=Min("created_at"))
        .values("owner_id", "day", "first")
    )
    return _day_scores(days)


def _food_logging_days(challenge: Challenge) -> dict[uuid.UUID, Score]:
    zone = ZoneInfo(challenge.timezone)
    days = (
        _food_logs(challenge)
        .annotate(day=TruncDate("timestamp", tzinfo=zone))
        .values("owner_id", "day")
        .annotate(first=Min("timestamp"))
        .values("owner_id", "day", "first")
    )
    return _day_scores(days)


def _protein_goal_days(challenge: Challenge) -> dict[uuid.UUID, Score]:
    zone = ZoneInfo(challenge.timezone)
    goal = ChallengeParticipant.objects.filter(
        challenge=challenge, user_id=OuterRef("owner_id")
    ).values("protein_goal_g")
    days = (
        _food_logs(challenge)
        .annotate(day=TruncDate("timestamp", tzinfo=zone))
        .values("owner_id", "day")
        # The day qualifies with the log that takes it over the goal; the last log of
        # the day stands in for that moment.
        .annotate(protein_total=Sum("protein"), first=Max("timestamp"))
        .filter(
            protein_total__gte=Subquery(
                goal, output_field=DecimalField(max_digits=7, decimal_places=1)
            )
        )
        .values("owner_id", "day", "first")
    )
    return _day_scores(days)


_SCORERS = {
    ChallengeType.ACTIVE_DAYS: _active_days,
    ChallengeType.FOOD_LOGGING_DAYS: _food_logging_days,
    ChallengeType.PROTEIN_GOAL_DAYS: _protein_goal_days,
}


def compute_scores(challenge: Challenge) -> dict[uuid.UUID, Score]:
    """Participants with data in the window; those without score zero."""
    if challenge.type in _SUMS:
        return _sum_scores(challenge)
    return _SCORERS[challenge.type](challenge)


def _decimal(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _datetime(value) -> datetime | None:
    # Raw SQL skips the ORM's converters: SQLite answers text, PostgreSQL a datetime.
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
