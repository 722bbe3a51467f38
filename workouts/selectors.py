"""Every read of workouts. Each query starts from the caller's own, live workouts."""

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    DateField,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncDate, TruncWeek
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_zone
from accounts.stats import StatsContribution, current_streak
from fitness import rows as row_pages
from fitness.api.errors import NotFound
from fitness.live_counts import live_count
from social import selectors as social
from workouts.models import (
    Exercise,
    ExerciseSet,
    Workout,
    WorkoutPhoto,
    WorkoutProgress,
    WorkoutShare,
    WorkoutType,
)

# The weekly series may not run longer than this (about ten years of weeks).
MAX_SERIES_WEEKS = 530


def _owned(user: User) -> QuerySet[Workout]:
    return Workout.objects.for_owner(user)


def _visible(user: User) -> QuerySet[Workout]:
    """The caller's own workouts, those shared with them, and those of their groups."""
    shared = WorkoutShare.objects.filter(workout=OuterRef("pk"), user=user)
    return Workout.objects.alive().filter(
        Q(owner=user) | Exists(shared) | social.group_visible_workouts(user)
    )


def _with_children(queryset: QuerySet[Workout]) -> QuerySet[Workout]:
    return queryset.select_related("owner").prefetch_related(
        Prefetch("exercises", queryset=Exercise.objects.prefetch_related("set_logs")),
        Prefetch("shares", queryset=WorkoutShare.objects.order_by("created_at", "id")),
        Prefetch("photos", queryset=WorkoutPhoto.objects.select_related("file")),
    )


def workouts_state(*, user: User) -> tuple[int, datetime | None]:
    """How many workouts the user has, and when one last changed: together they change
    whenever a workout is added, edited or deleted (a deletion lowers the count)."""
    state = _owned(user).aggregate(n=Count("id"), last=Max("updated_at"))
    return state["n"], state["last"]


def list_workouts(
    *,
    user: User,
    start: datetime | None = None,
    end: datetime | None = None,
    workout_type: str | None = None,
    completed: bool | None = None,
    q: str | None = None,
    include_shared: bool = False,
) -> QuerySet[Workout]:
    """Newest first; `end` is exclusive. With `include_shared`, also what others shared
    with the caller or linked to a group of theirs (read-only)."""
    queryset = _visible(user) if include_shared else _owned(user)
    if start is not None:
        queryset = queryset.filter(created_at__gte=start)
    if end is not None:
        queryset = queryset.filter(created_at__lt=end)
    if workout_type:
        queryset = queryset.filter(type=workout_type)
    if completed is not None:
        queryset = queryset.filter(completed=completed)
    if q:
        queryset = queryset.filter(Q(name__icontains=q) | Q(notes__icontains=q))
    return _with_children(queryset.order_by("-created_at", "-id"))


# What a list renders (workouts.api.serializers.render_workout), read as plain rows.
PAGE_FIELDS = (
    "id",
    "owner_id",
    "name",
    "type",
    "duration",
    "calories_burned",
    "calories_estimate",
    "completed",
    "completed_at",
    "notes",
    "created_at",
    "updated_at",
    "ai_form_check",
    "group_id",
)
# The owner's card, for workouts someone else shared (only lists with include_shared).
OWNER_FIELDS = ("owner__display_name", "owner__name")
EXERCISE_FIELDS = (
    "id",
    "workout_id",
    "name",
    "sets",
    "reps",
    "weight_kg",
    "weight_unit",
    "duration",
    "distance",
    "completed",
    "notes",
)
SET_FIELDS = ("exercise_id", "reps", "weight_kg", "weight_unit", "rpe", "completed")


# A page's child collections: readers in the order they were added, photos in order.
PAGE_CHILDREN: row_pages.Children = {
    "readers": (WorkoutShare.objects.order_by("created_at", "id"), "workout", "user_id"),
    "photo_ids": (WorkoutPhoto.objects.order_by("position"), "workout", "file_id"),
}


def workout_page(
    workouts: QuerySet[Workout], *, offset: int, size: int, with_owner: bool = False
) -> row_pages.RowPage:
    """One page of `workouts` (from `list_workouts`) as plain rows: `readers`, `photo_ids`
    (in order) and `exercises` (in order, each with its `set_logs`), in three statements
    whatever the page size (one when the page is empty)."""
    page = row_pages.page(
        workouts.prefetch_related(None).select_related(None),
        fields=PAGE_FIELDS + (OWNER_FIELDS if with_owner else ()),
        children=PAGE_CHILDREN,
        offset=offset,
        size=size,
    )
    return _with_exercises(page)


_ALL_WORKOUTS = row_pages.OwnerPages(
    lambda owner: list_workouts(user=owner),
    counted=lambda owner: live_count(owner, "workouts"),
    fields=PAGE_FIELDS,
    children=PAGE_CHILDREN,
)


def all_workouts_page(user: User, *, offset: int, size: int) -> row_pages.RowPage:
    """`workout_page` of all of the user's live workouts (no filter), with the maintained
    count as `total` instead of a count of their history."""
    return _with_exercises(_ALL_WORKOUTS.page(user, offset=offset, size=size))


_EXERCISES = row_pages.ChildRows(
    lambda: Exercise.objects.order_by("workout_id", "position").values(*EXERCISE_FIELDS),
    parent="workout_id",
    key="workout_id",
)
# By the page's workouts, not by each exercise id: a third of the ids.
_SET_LOGS = row_pages.ChildRows(
    lambda: ExerciseSet.objects.order_by("exercise_id", "position").values(*SET_FIELDS),
    parent="exercise__workout_id",
    key="exercise_id",
)


def _with_exercises(page: row_pages.RowPage) -> row_pages.RowPage:
    """Each row of `page` with its `exercises`, each with its `set_logs`: two statements."""
    if not page.rows:
        return page
    workout_ids = [row["id"] for row in page.rows]
    exercises = _EXERCISES.of(workout_ids)
    set_logs = _SET_LOGS.of(workout_ids)
    for group in exercises.values():
        for exercise in group:
            exercise["set_logs"] = set_logs.get(exercise["id"], [])
    for row in page.rows:
        row["exercises"] = exercises.get(row["id"], [])
    return page


def get_workout(*, user: User, workout_id: uuid.UUID) -> Workout:
    """One of the caller's workouts, or one they may read (shared, or through a group)."""
    workout = _with_children(_visible(user).filter(pk=workout_id)).first()
    if workout is None:
        raise NotFound("No such workout.")
    return workout


def list_progress(*, user: User, workout_id: uuid.UUID) -> QuerySet[WorkoutProgress]:
    """The workout's progress history, newest first."""
    if not _owned(user).filter(pk=workout_id).exists():
        raise NotFound("No such workout.")
    return WorkoutProgress.objects.filter(workout_id=workout_id).order_by("-timestamp", "-id")


def current_progress(workout: Workout) -> WorkoutProgress:
    """The workout's `WorkoutProgress` now (unsaved), from its prefetched exercises."""
    exercises = list(workout.exercises.all())
    return WorkoutProgress(
        workout=workout,
        completed_exercises=sum(1 for exercise in exercises if exercise.completed),
        total_exercises=len(exercises),
        duration=workout.duration,
        calories_burned=workout.calories_burned,
        calories_estimated=workout.calories_estimated,
        timestamp=workout.updated_at,
    )


def _totals() -> dict:
    return {
        "workouts": Count("id"),
        "completed": Count("id", filter=Q(completed=True)),
        "minutes": Coalesce(Sum("duration"), 0),
        "calories_burned": Coalesce(Sum("calories_burned"), 0),
        "training_volume_kg": Coalesce(Sum("volume_kg"), Value(Decimal(0))),
    }


def _week_start(moment: datetime, zone: ZoneInfo) -> date:
    day = moment.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def workout_stats(
    *,
    user: User,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> dict:
    """`WorkoutStats` in five queries whatever the number of workouts.

    Totals, the breakdown by type and the weekly series cover [start, end); the streak
    and the personal records are the user's current ones, whatever the range.
    Masses are in kg; the API renders them in the user's measurement system.
    """
    zone = user_zone(user)
    now = now or timezone.now()
    scope = _owned(user).order_by()
    if start is not None:
        scope = scope.filter(created_at__gte=start)
    if end is not None:
        scope = scope.filter(created_at__lt=end)

    totals = scope.aggregate(**_totals(), first=Min("created_at"))
    first = totals.pop("first")

    by_type = {row["type"]: row for row in scope.values("type").annotate(**_totals())}
    empty = {key: 0 for key in ("workouts", "completed", "minutes", "calories_burned")}
    breakdown = [
        {"type": kind, **empty, "training_volume_kg": Decimal(0), **by_type.get(kind, {})}
        for kind in WorkoutType.values
    ]

    return {
        "from": start,
        "to": end,
        "totals": totals,
        "by_type": breakdown,
        "weekly": _weekly(scope, zone=zone, start=start, end=end, first=first, now=now),
        "streak_days": current_streak(_active_days(user, zone), now.astimezone(zone).date()),
        "personal_records": _personal_records(user, zone),
    }


def _weekly(
    scope: QuerySet[Workout],
    *,
    zone: ZoneInfo,
    start: datetime | None,
    end: datetime | None,
    first: datetime | None,
    now: datetime,
) -> list[dict]:
    """One entry per local week (Monday first), weeks without workouts included."""
    last_moment = min(end - timedelta(microseconds=1), now) if end is not None else now
    if start is None and first is None:
        return []
    last_week = _week_start(last_moment, zone)
    first_week = _week_start(start if start is not None else first, zone)
    first_week = max(first_week, last_week - timedelta(weeks=MAX_SERIES_WEEKS - 1))
    rows = {
        row["week"]: row
        for row in scope.annotate(
            week=TruncWeek("created_at", tzinfo=zone, output_field=DateField())
        )
        .values("week")
        .annotate(**_totals())
    }
    series = []
    week = first_week
    while week <= last_week:
        row = rows.get(week, {})
        series.append(
            {
                "week_start": week,
                "workouts": row.get("workouts", 0),
                "completed": row.get("completed", 0),
                "minutes": row.get("minutes", 0),
                "calories_burned": row.get("calories_burned", 0),
                "training_volume_kg": row.get("training_volume_kg", Decimal(0)),
            }
        )
        week += timedelta(weeks=1)
    return series


def _active_days(user: User, zone: ZoneInfo) -> set[date]:
    """Local days with at least one workout, computed by the database."""
    return set(
        _owned(user)
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day", flat=True)
        .distinct()
    )


_RECORD_METRICS = {
    "heaviest_weight": "top_weight_kg",
    "best_one_rep_max": "best_one_rep_max_kg",
    "best_volume": "volume_kg",
}


def _personal_records(user: User, zone: ZoneInfo) -> list[dict]:
    """Per exercise name: the best value of each metric and the day it was first reached.

    One query: a window ranks each exercise row within its name for every metric, and
    only the rows ranked first for some metric come back.
    """
    rankings = {
        f"rank_{metric}": Window(
            RowNumber(),
            partition_by=[F("name_key")],
            order_by=[F(column).desc(nulls_last=True), F("workout__created_at").asc(), F("id")],
        )
        for metric, column in _RECORD_METRICS.items()
    }
    rows = (
        Exercise.objects.filter(
            workout__owner=user, workout__deleted_at__isnull=True, top_weight_kg__gt=0
        )
        .annotate(**rankings)
        .filter(Q(rank_heaviest_weight=1) | Q(rank_best_one_rep_max=1) | Q(rank_best_volume=1))
        .order_by()
        .values(
            "name_key",
            "name",
            "workout_id",
            "workout__created_at",
            *_RECORD_METRICS.values(),
            *rankings,
        )
    )
    records: dict[str, dict] = {}
    for row in rows:
        record = records.setdefault(row["name_key"], {"exercise": row["name"]})
        for metric, column in _RECORD_METRICS.items():
            if row[f"rank_{metric}"] != 1:
                continue
            if metric == "heaviest_weight":
                record["exercise"] = row["name"]
            record[metric] = {
                "value_kg": row[column],
                "date": row["workout__created_at"].astimezone(zone).date(),
                "workout_id": row["workout_id"],
            }
    return sorted(records.values(), key=lambda record: record["exercise"].casefold())


def user_stats_contribution(user: User, tz_name: str) -> StatsContribution:
    """The workouts' share of `GET /users/stats` (registered in WorkoutsConfig.ready)."""
    totals = (
        _owned(user)
        .order_by()
        .aggregate(workouts=Count("id"), calories=Coalesce(Sum("calories_burned"), 0))
    )
    return StatsContribution(
        total_workouts=totals["workouts"],
        total_calories_burned=totals["calories"],
        active_days=_active_days(user, ZoneInfo(tz_name)),
    )
