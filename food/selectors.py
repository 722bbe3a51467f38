"""Reads of food logs. Every query starts from what the caller owns (or was shared)."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from accounts.models import User
from accounts.stats import StatsContribution
from fitness import rows as row_pages
from fitness.api.errors import NotFound
from fitness.live_counts import live_count
from fitness.timeutils import start_of_day
from food.goals import NUTRIENTS, daily_goals
from food.models import FoodLog, FoodLogShare, FoodLogTag, MealType

UNSPECIFIED_MEAL = "unspecified"


def with_relations(logs: QuerySet[FoodLog]) -> QuerySet[FoodLog]:
    """The linked image (joined), tags and readers (as `tag_list` and `share_list`, which
    the API renders) in two extra queries, whatever the number of logs."""
    return logs.select_related("image").prefetch_related(
        Prefetch("tags", queryset=FoodLogTag.objects.order_by("id"), to_attr="tag_list"),
        Prefetch(
            "shares",
            queryset=FoodLogShare.objects.only("food_log_id", "user_id").order_by("id"),
            to_attr="share_list",
        ),
    )


def visible_logs(user: User, *, include_shared: bool = False) -> QuerySet[FoodLog]:
    if not include_shared:
        return FoodLog.objects.for_owner(user)
    # EXISTS rather than a join: a join on shares would repeat a log once per reader.
    shared = FoodLogShare.objects.filter(food_log=OuterRef("pk"), user=user)
    return FoodLog.objects.alive().filter(Q(owner=user) | Exists(shared))


def food_logs_state(*, user: User) -> tuple[int, datetime | None]:
    """How many food logs the user has, and when one last changed: together they change
    whenever a log is added, edited or deleted (a deletion lowers the count)."""
    state = FoodLog.objects.for_owner(user).aggregate(n=Count("id"), last=Max("updated_at"))
    return state["n"], state["last"]


def list_food_logs(
    *,
    user: User,
    start: datetime | None = None,
    end: datetime | None = None,
    meal_type: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    include_shared: bool = False,
) -> QuerySet[FoodLog]:
    """Newest first; `start` inclusive, `end` exclusive (aware datetimes)."""
    logs = visible_logs(user, include_shared=include_shared)
    if start is not None:
        logs = logs.filter(timestamp__gte=start)
    if end is not None:
        logs = logs.filter(timestamp__lt=end)
    if meal_type:
        logs = logs.filter(meal_type=meal_type)
    if tag:
        # (food_log, name) is unique, so this join never repeats a log.
        logs = logs.filter(tags__name=tag)
    if q:
        logs = logs.filter(name__icontains=q)
    return with_relations(logs.order_by("-timestamp", "-id"))


# What a list renders of each log (food.api.serializers.render_food_log), read as plain rows.
PAGE_FIELDS = (
    "id",
    "owner_id",
    "name",
    "calories",
    "protein",
    "carbs",
    "fat",
    "fiber",
    "sugar",
    "timestamp",
    "meal_type",
    "image_id",
    "image_url",
    "ai_analysis",
    "metadata",
    "created_at",
    "updated_at",
)


# A page's child collections: tags in the order they were added, and readers.
PAGE_CHILDREN: row_pages.Children = {
    "tags": (FoodLogTag.objects.order_by("id"), "food_log", "name"),
    "readers": (FoodLogShare.objects.order_by("id"), "food_log", "user_id"),
}


def food_log_page(logs: QuerySet[FoodLog], *, offset: int, size: int) -> row_pages.RowPage:
    """One page of `logs` (from `list_food_logs`) as plain rows, each with `tags` and
    `readers`; the count of all of `logs` comes with them."""
    return row_pages.page(
        logs.prefetch_related(None).select_related(None),
        fields=PAGE_FIELDS,
        children=PAGE_CHILDREN,
        offset=offset,
        size=size,
    )


_ALL_LOGS = row_pages.OwnerPages(
    lambda owner: list_food_logs(user=owner),
    counted=lambda owner: live_count(owner, "food_logs"),
    fields=PAGE_FIELDS,
    children=PAGE_CHILDREN,
)


def all_food_logs_page(user: User, *, offset: int, size: int) -> row_pages.RowPage:
    """`food_log_page` of all of the user's live logs (no filter), with the maintained
    count as `total` instead of a count of their history."""
    return _ALL_LOGS.page(user, offset=offset, size=size)


def get_food_log(*, user: User, log_id: UUID) -> FoodLog:
    """A log the caller owns or was shared; 404 for anything else, deleted ones included."""
    log = with_relations(visible_logs(user, include_shared=True).filter(pk=log_id)).first()
    if log is None:
        raise NotFound()
    return log


def food_logs_in_order(ids: Iterable[UUID]) -> list[FoodLog]:
    ids = list(ids)
    by_id = {log.pk: log for log in with_relations(FoodLog.objects.filter(pk__in=ids))}
    return [by_id[log_id] for log_id in ids]


def _zero() -> dict[str, Any]:
    return {"calories": 0, **dict.fromkeys(NUTRIENTS[1:], 0.0), "logs": 0}


def _add(target: dict[str, Any], row: dict[str, Any]) -> None:
    target["calories"] += row["calories"] or 0
    for name in NUTRIENTS[1:]:
        target[name] += float(row[name] or 0)
    target["logs"] += row["logs"]


def _progress(values: dict[str, Any], goals: dict[str, float]) -> dict[str, float | None]:
    # A goal of zero (e.g. no calories left for carbs) has no meaningful percentage.
    return {
        name: round(values[name] / goals[name] * 100, 1) if goals[name] else None
        for name in NUTRIENTS
    }


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: round(value, 2) if isinstance(value, float) else value for key, value in values.items()
    }


def nutrition_stats(*, user: User, start: date, end: date, zone: ZoneInfo, today: date) -> dict:
    """Per-day and per-meal totals for the local days `start`..`end` (inclusive).

    One grouped query (day x meal type); the folding below walks at most
    days x 5 aggregated rows, never the logs themselves.
    """
    rows = (
        FoodLog.objects.for_owner(user)
        .filter(
            timestamp__gte=start_of_day(start, zone),
            timestamp__lt=start_of_day(end + timedelta(days=1), zone),
        )
        .annotate(day=TruncDate("timestamp", tzinfo=zone))
        .values("day", "meal_type")
        .annotate(**{name: Sum(name) for name in NUTRIENTS}, logs=Count("id"))
        .order_by()
    )
    day_count = (end - start).days + 1
    days = {start + timedelta(days=offset): _zero() for offset in range(day_count)}
    by_meal = {meal: _zero() for meal in [*MealType.values, UNSPECIFIED_MEAL]}
    totals = _zero()
    for row in rows:
        _add(days[row["day"]], row)
        _add(by_meal[row["meal_type"] or UNSPECIFIED_MEAL], row)
        _add(totals, row)

    goals = daily_goals(user, today)
    goal_values = goals.as_dict()
    days_logged = sum(1 for values in days.values() if values["logs"])
    averages = {key: (value / days_logged if days_logged else 0.0) for key, value in totals.items()}
    return {
        "from": start,
        "to": end,
        "tz": zone.key,
        "days": [
            {"date": day, **_rounded(values), "progress": _progress(values, goal_values)}
            for day, values in days.items()
        ],
        "totals": _rounded(totals),
        "averages": _rounded(averages),
        "days_logged": days_logged,
        "days_in_range": day_count,
        "by_meal_type": {meal: _rounded(values) for meal, values in by_meal.items()},
        "goals": goal_values,
        "goal_source": goals.source,
        "progress": _progress(averages, goal_values),
    }


def food_stats_contribution(user: User, tz_name: str) -> StatsContribution:
    """For /users/stats: the log count and the local days with a log, in one grouped query."""
    days = (
        FoodLog.objects.for_owner(user)
        .annotate(day=TruncDate("timestamp", tzinfo=ZoneInfo(tz_name)))
        .values("day")
        .annotate(logs=Count("id"))
        .order_by()
    )
    per_day = {row["day"]: row["logs"] for row in days}
    return StatsContribution(total_food_logs=sum(per_day.values()), active_days=set(per_day))
