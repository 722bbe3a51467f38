"""The push side of sync: a client's offline changes, applied in one transaction through
the same serializers and services as the REST endpoints (bounds, image ownership and the
sharing rule included)."""

import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import User
from analytics.events import FoodSource
from fitness.api.errors import ApiError, NotFound
from fitness.error_codes import ErrorCode
from food import services as food
from food.api.serializers import FoodLogWriteSerializer
from food.models import FoodLog
from sync.models import SyncHorizon, SyncTombstone
from sync.tables import TABLES, uuid_or_none
from workouts import services as workouts
from workouts.api.serializers import WorkoutCreateSerializer, WorkoutWriteSerializer
from workouts.models import Exercise, Workout

logger = logging.getLogger("sync")

# Only whitelisted columns are applied: WatermelonDB's own bookkeeping (`_status`,
# `_changed`) and what the server computes (owner, volume, times) are ignored.
_JSON_COLUMNS = {
    "tags",
    "shared_with",
    "ai_analysis",
    "metadata",
    "progress_photo_ids",
    "ai_form_check",
}
_TIME_COLUMNS = {"timestamp", "completed_at", "created_at"}
_NOT_A_UUID = "Ids are UUIDs: install a UUID generator in the app (setGenerator, see the README)."


class SyncConflict(ApiError):
    code = ErrorCode.SYNC_CONFLICT
    message = "Some records changed on the server since your last pull; pull, then push again."


@dataclass
class PushResult:
    """Records that can never be applied, `{table: {id: reason}}`; all others were."""

    rejected: dict[str, dict[str, str]] = field(default_factory=dict)

    def reject(self, table: str, record_id: str, reason: str) -> None:
        self.rejected.setdefault(table, {})[record_id] = reason
        logger.warning("sync push rejected %s %s: %s", table, record_id, reason)


class _Rejected(Exception):
    pass


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{name}: {message}" for name, message in _flat(exc.detail))
    return str(exc)


def _flat(detail: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(detail, dict):
        return [item for key, value in detail.items() for item in _flat(value, f"{prefix}{key}.")]
    if isinstance(detail, list):
        return [item for value in detail for item in _flat(value, prefix)]
    return [(prefix.rstrip(".") or "record", str(detail))]


def _epoch(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC).isoformat()
    return value


def _fields(record: dict[str, Any], allowed: set[str], nullable: set[str] | None = None) -> dict:
    """A pushed record as REST input: JSON strings parsed, epoch times as ISO 8601. A null
    in a column the API does not take null for is an empty client column (WatermelonDB
    fills optional columns with null): left out, so the API's default applies."""
    data = {}
    for name, value in record.items():
        if name not in allowed or (value is None and nullable is not None and name not in nullable):
            continue
        if name in _JSON_COLUMNS and isinstance(value, str):
            try:
                value = json.loads(value) if value else None
            except ValueError:
                raise _Rejected(f"{name}: not valid JSON.") from None
        if name in _TIME_COLUMNS:
            value = _epoch(value)
        data[name] = value
    return data


def _record_id(record: dict[str, Any]) -> uuid.UUID:
    parsed = uuid_or_none(record.get("id"))
    if parsed is None:
        raise _Rejected(_NOT_A_UUID)
    return parsed


def _each(result: PushResult, table: str, record_id: str, apply: Callable[[], None]) -> None:
    """Applies one record in a savepoint: a record that can never be valid is rolled
    back and rejected, so it does not wedge the client's queue."""
    try:
        with transaction.atomic():
            apply()
    except (_Rejected, ValidationError, ApiError) as exc:
        result.reject(table, record_id, _reason(exc))


# --- conflicts -----------------------------------------------------------------------------

_OWNED = {
    "food_logs": (FoodLog, "owner"),
    "workouts": (Workout, "owner"),
    "exercises": (Exercise, "workout__owner"),
}


def _conflicts(user: User, changes: dict, since: int) -> dict[str, list[str]]:
    """Ids the push touches that changed (or went) on the server since the client's pull.
    The rows are locked, so nothing can change them between this check and the writes."""
    conflicts = {}
    for name, (model, owner) in _OWNED.items():
        pushed = changes.get(name, {})
        ids = {
            parsed
            for record in [*pushed.get("created", []), *pushed.get("updated", [])]
            if (parsed := uuid_or_none(record.get("id")))
        } | {parsed for raw in pushed.get("deleted", []) if (parsed := uuid_or_none(raw))}
        if not ids:
            continue
        changed = {
            str(row_id)
            for row_id in model._base_manager.select_for_update(of=("self",))
            .filter(**{owner: user}, pk__in=ids, sync_version__gte=since)
            .values_list("pk", flat=True)
        }
        gone = SyncTombstone.objects.filter(
            user_id=user.pk, table_name=name, sync_version__gte=since
        ).values_list("row_id", flat=True)
        changed |= {str(row_id) for raw in gone if (row_id := uuid_or_none(raw)) in ids}
        if changed:
            conflicts[name] = sorted(changed)
    return conflicts


# --- food logs -----------------------------------------------------------------------------

_FOOD_FIELDS = FoodLogWriteSerializer().fields
_FOOD_COLUMNS = set(_FOOD_FIELDS) - {"id", "user_id", "created_at", "updated_at"}
_FOOD_NULLABLE = {name for name, spec in _FOOD_FIELDS.items() if spec.allow_null}


def _save_food_log(user: User, record: dict[str, Any]) -> None:
    log_id = _record_id(record)
    data = _fields(record, _FOOD_COLUMNS, _FOOD_NULLABLE)
    if data.get("image_id") is not None:
        data.pop("image_url", None)
    stored = FoodLog._base_manager.filter(pk=log_id).values("owner_id", "deleted_at").first()
    if stored is not None and stored["owner_id"] == user.pk and stored["deleted_at"] is None:
        serializer = FoodLogWriteSerializer(data=data, context={"user": user})
        serializer.is_valid(raise_exception=True)
        food.update_food_log(
            owner=user, log_id=log_id, changes=serializer.validated_data, precondition=_any
        )
        return
    serializer = FoodLogWriteSerializer(data={**data, "id": str(log_id)}, context={"user": user})
    serializer.is_valid(raise_exception=True)
    food.log_food(owner=user, data=serializer.validated_data, source=FoodSource.SYNC)


def _delete_food_log(user: User, raw: str) -> None:
    log_id = uuid_or_none(raw)
    if log_id is None:
        return
    # Deleting an id the caller has no log under (unknown, gone, anyone else's) is a no-op.
    with contextlib.suppress(NotFound):
        food.delete_food_log(owner=user, log_id=log_id, precondition=_any)


def _any(_row: Any) -> None:
    """The precondition of a sync write: conflicts were checked for the whole push."""


# --- workouts ------------------------------------------------------------------------------

_WORKOUT_FIELDS = WorkoutCreateSerializer().fields
_WORKOUT_NULLABLE = {name for name, spec in _WORKOUT_FIELDS.items() if spec.allow_null}
_WORKOUT_COLUMNS = set(_WORKOUT_FIELDS) - {
    "id",
    "user_id",
    "updated_at",
    "calories_estimated",
    "calories_estimate",
    "owner",
    "exercises",
    "progress_photos",
}


def _save_workout(user: User, record: dict[str, Any]) -> None:
    workout_id = _record_id(record)
    data = _fields(record, _WORKOUT_COLUMNS, _WORKOUT_NULLABLE)
    if record.get("calories_estimated"):
        # An estimate echoed back is not the user's own figure.
        data.pop("calories_burned", None)
    exists = Workout.objects.for_owner(user).filter(pk=workout_id).exists()
    if exists:
        data.pop("created_at", None)
        serializer = WorkoutWriteSerializer(data=data, partial=True, context={"user": user})
        serializer.is_valid(raise_exception=True)
        workouts.update_workout(
            owner=user, workout_id=workout_id, data=serializer.validated_data, precondition=_any
        )
        return
    serializer = WorkoutCreateSerializer(
        data={**data, "id": str(workout_id)}, context={"user": user}
    )
    serializer.is_valid(raise_exception=True)
    workouts.create_workout(owner=user, data=serializer.validated_data)


def _delete_workout(user: User, raw: str) -> None:
    workout_id = uuid_or_none(raw)
    if workout_id is None:
        return
    with contextlib.suppress(NotFound):
        workouts.delete_workout(owner=user, workout_id=workout_id)


# --- exercises -----------------------------------------------------------------------------

_EXERCISE_COLUMNS = {"name", "sets", "reps", "duration", "distance", "completed", "notes"}
_EXERCISE_NULLABLE = {"duration", "distance"}


def _current_exercises(workout: Workout) -> dict[str, dict[str, Any]]:
    """The workout's exercises as REST input, with their sets, keyed by id."""
    rows = Exercise.objects.filter(workout=workout).prefetch_related("set_logs")
    current = {}
    for exercise in rows:
        record = TABLES["exercises"].render([exercise], workout.owner)[0]
        current[record["id"]] = {
            **{name: record[name] for name in _EXERCISE_COLUMNS},
            "id": record["id"],
            "position": exercise.position,
            "weight": _mass(record["weight"], record["weight_unit"]),
            "set_logs": [
                {
                    "reps": log.reps,
                    "weight": _mass(
                        TABLES["set_logs"].render([log], workout.owner)[0]["weight"],
                        log.weight_unit,
                    ),
                    "rpe": log.rpe,
                    "completed": log.completed,
                }
                for log in exercise.set_logs.all()
            ],
        }
    return current


def _mass(value: Any, unit: str | None) -> dict | None:
    return None if value is None else {"value": value, "unit": unit or "kg"}


def _apply_exercises(user: User, pushed: dict, result: PushResult) -> None:
    """Exercises are edited through their workout (it keeps volume and records right), so
    the changes are grouped by workout and each workout's list is written once."""
    by_workout: dict[uuid.UUID, list[dict]] = defaultdict(list)
    for record in [*pushed.get("created", []), *pushed.get("updated", [])]:
        record_id = str(record.get("id"))
        workout_id = uuid_or_none(record.get("workout_id"))
        if uuid_or_none(record_id) is None:
            result.reject("exercises", record_id, _NOT_A_UUID)
        elif workout_id is None:
            result.reject("exercises", record_id, "workout_id: not a workout id.")
        else:
            by_workout[workout_id].append(record)
    doomed = {parsed for raw in pushed.get("deleted", []) if (parsed := uuid_or_none(raw))}
    owners = Exercise.objects.filter(pk__in=doomed, workout__owner=user, workout__deleted_at=None)
    for workout_id in owners.values_list("workout_id", flat=True):
        by_workout.setdefault(workout_id, [])
    for workout_id, records in by_workout.items():
        _rewrite_workout(user, workout_id, records, doomed, result)


def _rewrite_workout(
    user: User, workout_id: uuid.UUID, records: list[dict], doomed: set, result: PushResult
) -> None:
    workout = Workout.objects.for_owner(user).filter(pk=workout_id).first()
    if workout is None:
        for record in records:
            result.reject("exercises", str(record["id"]), "workout_id: no such workout of yours.")
        return
    current = _current_exercises(workout)
    for exercise_id in doomed:
        current.pop(str(exercise_id), None)
    for record in records:
        data = _fields(record, _EXERCISE_COLUMNS, _EXERCISE_NULLABLE)
        if "weight" in record:
            data["weight"] = _mass(record["weight"], record.get("weight_unit"))
        before = current.get(str(record["id"]), {"set_logs": []})
        position = record.get("position", before.get("position", len(current)))
        current[str(record["id"])] = {
            **before,
            **data,
            "id": str(record["id"]),
            "position": position,
        }
    ordered = sorted(current.values(), key=lambda item: (item.get("position") or 0, item["id"]))
    exercises = [{k: v for k, v in item.items() if k != "position"} for item in ordered]

    def apply() -> None:
        serializer = WorkoutWriteSerializer(
            data={"exercises": exercises}, partial=True, context={"user": user}
        )
        serializer.is_valid(raise_exception=True)
        workouts.update_workout(
            owner=user,
            workout_id=workout_id,
            data=serializer.validated_data,
            precondition=_any,
            new_exercise_ids=True,
        )

    try:
        with transaction.atomic():
            apply()
    except (_Rejected, ValidationError, ApiError) as exc:
        for record in records:
            result.reject("exercises", str(record["id"]), _reason(exc))


# --- the push ------------------------------------------------------------------------------

_READ_ONLY_REASON = "This table is read-only over sync; change it through its REST endpoint."


@transaction.atomic
def push_changes(*, user: User, changes: dict[str, dict], last_pulled_at: int) -> PushResult:
    """All or nothing against conflicts (409 `sync_conflict`, nothing applied); record by
    record against invalid data (rejected, the rest applied)."""
    conflicts = _conflicts(user, changes, last_pulled_at)
    if conflicts:
        raise SyncConflict(details={"conflicts": conflicts})
    result = PushResult()
    for name, pushed in changes.items():
        if not TABLES[name].pushable:
            for record in [*pushed["created"], *pushed["updated"]]:
                result.reject(name, str(record.get("id")), _READ_ONLY_REASON)
            for raw in pushed["deleted"]:
                result.reject(name, raw, _READ_ONLY_REASON)
    savers = {"food_logs": _save_food_log, "workouts": _save_workout}
    for name, save in savers.items():
        pushed = changes.get(name)
        for record in [*pushed["created"], *pushed["updated"]] if pushed else []:
            _each(result, name, str(record.get("id")), lambda r=record, s=save: s(user, r))
    if "exercises" in changes:
        _apply_exercises(user, changes["exercises"], result)
    deleters = {"food_logs": _delete_food_log, "workouts": _delete_workout}
    for name, delete in deleters.items():
        for raw in changes.get(name, {}).get("deleted", []):
            _each(result, name, raw, lambda r=raw, d=delete: d(user, r))
    return result


# --- tombstone pruning ---------------------------------------------------------------------


@transaction.atomic
def prune_tombstones(*, now: datetime | None = None) -> int:
    """Deletes the tombstones a previous run put behind the horizon, then moves the
    horizon up to those older than SYNC_TOMBSTONE_RETENTION_DAYS. A pull from at or below
    the horizon is answered in full (sync.selectors); one that read the old horizon just
    before this run may still be reading tombstones, so they go one run later, never in
    the run that publishes their horizon. Returns how many were deleted."""
    horizon, _ = SyncHorizon.objects.select_for_update().get_or_create(pk=1)
    deleted, _ = SyncTombstone.objects.filter(sync_version__lte=horizon.pruned_through).delete()
    cutoff = (now or timezone.now()) - timedelta(days=settings.SYNC_TOMBSTONE_RETENTION_DAYS)
    expired = SyncTombstone.objects.filter(created_at__lt=cutoff).aggregate(top=Max("sync_version"))
    if expired["top"] is not None and expired["top"] > horizon.pruned_through:
        horizon.pruned_through = expired["top"]
        horizon.save(update_fields=["pruned_through"])
    if deleted:
        logger.info("Pruned %s sync tombstones through %s", deleted, horizon.pruned_through)
    return deleted
