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

from accounts import services as accounts
from accounts.api.serializers import (
    PreferencesSerializer,
    ProfileUpdateSerializer,
    UserSettingsSerializer,
)
from accounts.models import User
from analytics.events import FoodSource
from fitness.api.errors import ApiError, IdConflict, NotFound
from fitness.error_codes import ErrorCode
from fitness.offline import IdDeleted
from food import services as food
from food.api.serializers import FoodLogWriteSerializer
from food.models import FoodLog
from storage import services as storage
from storage.models import StoredFile
from sync.database import write_tombstones
from sync.models import SyncHorizon, SyncTombstone
from sync.tables import TABLES, epoch_ms, uuid_or_none
from workouts import services as workouts
from workouts.api.serializers import (
    ProgressInputSerializer,
    SetLogInputSerializer,
    WorkoutCreateSerializer,
    WorkoutWriteSerializer,
)
from workouts.models import Exercise, ExerciseSet, Workout, WorkoutProgress

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
    "privacy_settings",
    "preferences",
    "marked",
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
    "set_logs": (ExerciseSet, "exercise__workout__owner"),
    "workout_progress": (WorkoutProgress, "workout__owner"),
    "stored_files": (StoredFile, "owner"),
    "profile": (User, "pk"),
    "settings": (User, "pk"),
}


def _stored_id(table: str, raw: Any) -> int | uuid.UUID | None:
    """An id as the server stores it. Set logs are numbered by the server; one the app
    created offline carries the app's UUID until the server numbers it."""
    if table == "set_logs" and str(raw).isdigit():
        return int(str(raw))
    return uuid_or_none(raw)


def _conflicts(user: User, changes: dict, since: int) -> dict[str, list[str]]:
    """Ids the push touches that changed (or went) on the server since the client's pull.
    The rows are locked, so nothing can change them between this check and the writes."""
    conflicts = {}
    for name, (model, owner) in _OWNED.items():
        pushed = changes.get(name, {})
        records = [*pushed.get("created", []), *pushed.get("updated", [])]
        raws = [record.get("id") for record in records]
        ids = {
            parsed
            for raw in [*raws, *pushed.get("deleted", [])]
            if (parsed := _stored_id(name, raw)) is not None
        }
        if not ids:
            continue
        pk_type = int if name == "set_logs" else uuid.UUID
        changed = {
            str(row_id)
            for row_id in model._base_manager.select_for_update(of=("self",))
            .filter(
                **{owner: user.pk},
                pk__in=[row_id for row_id in ids if isinstance(row_id, pk_type)],
                sync_version__gte=since,
            )
            .values_list("pk", flat=True)
        }
        gone = SyncTombstone.objects.filter(
            user_id=user.pk, table_name=name, sync_version__gte=since
        ).values_list("row_id", flat=True)
        changed |= {str(row_id) for raw in gone if (row_id := _stored_id(name, raw)) in ids}
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


# --- exercises and set logs ------------------------------------------------------------

_EXERCISE_COLUMNS = {"name", "sets", "reps", "duration", "distance", "completed", "notes"}
_EXERCISE_NULLABLE = {"duration", "distance"}
_SET_LOG_COLUMNS = {"reps", "rpe", "completed"}
_NOT_A_SET_LOG_ID = "Set-log ids are the server's numbers, or UUIDs for sets the app created."


def _current_exercises(workout: Workout) -> dict[str, dict[str, Any]]:
    """The workout's exercises as REST input, with their sets, keyed by id. Each set
    keeps its id and position under `key` and `position`, which are dropped before the
    workout is written."""
    rows = Exercise.objects.filter(workout=workout).prefetch_related("set_logs")
    current = {}
    for exercise in rows:
        record = TABLES["exercises"].render([exercise], workout.owner)[0]
        logs = TABLES["set_logs"].render(list(exercise.set_logs.all()), workout.owner)
        current[record["id"]] = {
            **{name: record[name] for name in _EXERCISE_COLUMNS},
            "id": record["id"],
            "position": exercise.position,
            "weight": _mass(record["weight"], record["weight_unit"]),
            "set_logs": [
                {
                    **{name: log[name] for name in _SET_LOG_COLUMNS},
                    "weight": _mass(log["weight"], log["weight_unit"]),
                    "key": log["id"],
                    "position": log["position"],
                }
                for log in logs
            ],
        }
    return current


def _mass(value: Any, unit: str | None) -> dict | None:
    return None if value is None else {"value": value, "unit": unit or "kg"}


@dataclass
class _WorkoutEdit:
    """What a push changes under one workout: it is written once, as REST would."""

    exercises: list[dict] = field(default_factory=list)
    set_logs: list[dict] = field(default_factory=list)


def _set_log_input(record: dict[str, Any]) -> dict[str, Any]:
    """A pushed set log as the REST set-log input, checked by the same serializer."""
    data = _fields(record, _SET_LOG_COLUMNS, {"rpe"})
    if "weight" in record:
        data["weight"] = _mass(record["weight"], record.get("weight_unit"))
    SetLogInputSerializer(data=data).is_valid(raise_exception=True)
    return data


def _apply_workout_children(user: User, changes: dict, result: PushResult) -> None:
    """Exercises and set logs are edited through their workout (it keeps volume and
    records right), so the changes are grouped by workout and each workout's list is
    written once."""
    exercises, set_logs = changes.get("exercises", {}), changes.get("set_logs", {})
    edits: dict[uuid.UUID, _WorkoutEdit] = defaultdict(_WorkoutEdit)
    pushed_parents: dict[uuid.UUID, uuid.UUID] = {}
    for record in [*exercises.get("created", []), *exercises.get("updated", [])]:
        record_id = str(record.get("id"))
        workout_id = uuid_or_none(record.get("workout_id"))
        if uuid_or_none(record_id) is None:
            result.reject("exercises", record_id, _NOT_A_UUID)
        elif workout_id is None:
            result.reject("exercises", record_id, "workout_id: not a workout id.")
        else:
            edits[workout_id].exercises.append(record)
            pushed_parents[uuid.UUID(record_id)] = workout_id

    logs = [*set_logs.get("created", []), *set_logs.get("updated", [])]
    named = {parsed for record in logs if (parsed := uuid_or_none(record.get("exercise_id")))}
    parents = dict(
        Exercise.objects.filter(
            pk__in=named - set(pushed_parents), workout__owner=user, workout__deleted_at=None
        ).values_list("id", "workout_id")
    )
    parents.update(pushed_parents)
    for record in logs:
        record_id = str(record.get("id"))
        workout_id = parents.get(uuid_or_none(record.get("exercise_id")))
        try:
            if _stored_id("set_logs", record_id) is None:
                raise _Rejected(_NOT_A_SET_LOG_ID)
            if workout_id is None:
                raise _Rejected("exercise_id: no such exercise of yours.")
            edits[workout_id].set_logs.append({**record, "input": _set_log_input(record)})
        except (_Rejected, ValidationError) as exc:
            result.reject("set_logs", record_id, _reason(exc))

    doomed = {parsed for raw in exercises.get("deleted", []) if (parsed := uuid_or_none(raw))}
    owners = Exercise.objects.filter(pk__in=doomed, workout__owner=user, workout__deleted_at=None)
    for workout_id in owners.values_list("workout_id", flat=True):
        edits.setdefault(workout_id, _WorkoutEdit())
    # A set the app created and deleted before pushing was never stored: nothing to do.
    gone_logs = {int(raw) for raw in set_logs.get("deleted", []) if raw.isdigit()}
    doomed_logs = ExerciseSet.objects.filter(
        pk__in=gone_logs, exercise__workout__owner=user, exercise__workout__deleted_at=None
    )
    for workout_id in doomed_logs.values_list("exercise__workout_id", flat=True):
        edits.setdefault(workout_id, _WorkoutEdit())
    removed = doomed | {str(log_id) for log_id in gone_logs}
    for workout_id, edit in edits.items():
        _rewrite_workout(user, workout_id, edit, removed, result)


def _rewrite_workout(
    user: User, workout_id: uuid.UUID, edit: _WorkoutEdit, removed: set, result: PushResult
) -> None:
    def reject_all(reason: str) -> None:
        for record in edit.exercises:
            result.reject("exercises", str(record["id"]), reason)
        for record in edit.set_logs:
            result.reject("set_logs", str(record["id"]), reason)

    workout = Workout.objects.for_owner(user).filter(pk=workout_id).first()
    if workout is None:
        reject_all("workout_id: no such workout of yours.")
        return
    current = _current_exercises(workout)
    for exercise_id in removed:
        current.pop(str(exercise_id), None)
    for item in current.values():
        item["set_logs"] = [log for log in item["set_logs"] if log["key"] not in removed]
    for record in edit.exercises:
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
    placed = []
    for record in edit.set_logs:
        try:
            _place_set_log(current, record)
        except _Rejected as exc:
            result.reject("set_logs", str(record["id"]), str(exc))
        else:
            placed.append(record)
    edit.set_logs = placed
    ordered = sorted(current.values(), key=lambda item: (item.get("position") or 0, item["id"]))
    exercises = [_exercise_input(item) for item in ordered]

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
        reject_all(_reason(exc))
        return
    # Every set of a rewritten workout is stored anew under a number of the server's, and
    # the old numbers get tombstones. Sets the app created under its own UUIDs were never
    # stored under them: their tombstones tell the app to drop its copy of each, since the
    # server's copy arrives under its number in the same pull.
    app_ids = [str(r["id"]) for r in edit.set_logs if not str(r["id"]).isdigit()]
    write_tombstones(user_ids=[user.pk], table="set_logs", row_ids=app_ids)


def _place_set_log(current: dict[str, dict], record: dict[str, Any]) -> None:
    """Puts a pushed set log under its exercise (moving it if it changed exercise)."""
    key = str(record["id"])
    before: dict[str, Any] = {}
    for item in current.values():
        for log in item["set_logs"]:
            if log["key"] == key:
                before = log
        item["set_logs"] = [log for log in item["set_logs"] if log["key"] != key]
    parent = current.get(str(uuid_or_none(record["exercise_id"])))
    if parent is None:
        raise _Rejected("exercise_id: no such exercise of yours.")
    position = record.get("position", before.get("position", len(parent["set_logs"])))
    parent["set_logs"].append({**before, **record["input"], "key": key, "position": position})


def _exercise_input(item: dict[str, Any]) -> dict[str, Any]:
    logs = sorted(item["set_logs"], key=lambda log: (log["position"] or 0, log["key"]))
    exercise = {k: v for k, v in item.items() if k not in ("position", "set_logs")}
    exercise["set_logs"] = [
        {k: v for k, v in log.items() if k not in ("key", "position")} for log in logs
    ]
    if logs:
        # With set logs, their number is the exercise's sets.
        exercise.pop("sets", None)
    return exercise


# --- workout progress -----------------------------------------------------------------

_PROGRESS_HISTORY = "Progress entries are history: record new progress instead of editing one."


def _save_progress(user: User, record: dict[str, Any], *, created: bool) -> None:
    """A progress report made offline, recorded as POST .../progress records it (the
    entry is the workout's state right after it); resending one is a no-op."""
    progress_id = _record_id(record)
    stored = (
        WorkoutProgress.objects.filter(pk=progress_id)
        .values("workout__owner_id", "timestamp", "duration", "calories_burned")
        .first()
    )
    if stored is not None:
        stored["timestamp"] = epoch_ms(stored["timestamp"])
        if stored["workout__owner_id"] != user.pk:
            raise IdConflict()
        # The same report sent again (a lost answer; or a client that sends created records
        # as updated) is a no-op, a changed one an edit of history. Its moment, and the
        # figures the server stores as given, tell them apart.
        if not created and any(
            record.get(name) is not None and record[name] != stored[name]
            for name in ("timestamp", "duration", "calories_burned")
        ):
            raise _Rejected(_PROGRESS_HISTORY)
        return
    # Tombstones hold the id as the database printed it (SQLite: without dashes).
    spellings = [str(progress_id), progress_id.hex]
    if SyncTombstone.objects.filter(
        user_id=user.pk, table_name="workout_progress", row_id__in=spellings
    ).exists():
        raise IdDeleted()
    workout_id = uuid_or_none(record.get("workout_id"))
    if workout_id is None:
        raise _Rejected("workout_id: not a workout id.")
    data = _fields(record, {"duration", "calories_burned", "timestamp", "marked"}, set())
    marked = data.pop("marked", None) or {}
    if not isinstance(marked, dict):
        raise _Rejected("marked: expected an object.")
    data.update({key: marked[key] for key in ("exercises", "sets") if marked.get(key)})
    if not marked.get("exercises") and record.get("completed_exercises") is not None:
        data["completed_exercises"] = record["completed_exercises"]
    serializer = ProgressInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    workouts.record_progress(
        owner=user, workout_id=workout_id, progress_id=progress_id, **serializer.validated_data
    )


# --- profile and settings ------------------------------------------------------------

_ONE_ROW = (
    "One row per account, made with the account: push it as updated (its id is your user id)."
)
_NOT_YOURS = "Not your account: this row's id is your user id."
_PROFILE_COLUMNS = {"name", "display_name", "birthday", "gender", "fitness_goal"}
_PROFILE_MEASURES = {
    "height_cm": ("height", "cm"),
    "weight_kg": ("weight", "kg"),
    "target_weight_kg": ("target_weight", "kg"),
}
_SETTINGS_COLUMNS = set(UserSettingsSerializer().fields)


def _own_row(user: User, record: dict[str, Any]) -> None:
    if _record_id(record) != user.pk:
        raise _Rejected(_NOT_YOURS)


def _save_profile(user: User, record: dict[str, Any]) -> None:
    """Through PUT /users/profile's serializer and service (and the preferences merge)."""
    _own_row(user, record)
    data = {
        name: record[name]
        for name in _PROFILE_COLUMNS & record.keys()
        if record[name] is not None or name == "birthday"
    }
    if data.get("birthday") is not None:
        data["birthday"] = _epoch(data["birthday"])[:10]
    for column, (name, unit) in _PROFILE_MEASURES.items():
        if column in record:
            value = record[column]
            data[name] = None if value is None else {"value": value, "unit": unit}
    serializer = ProfileUpdateSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    accounts.update_profile(user=user, changes=dict(serializer.validated_data))
    if record.get("preferences") is not None:
        wanted = _fields(record, {"preferences"}, set()).get("preferences")
        if not isinstance(wanted, dict):
            raise _Rejected("preferences: expected a JSON object.")
        patch = _patch_towards(user.preferences, wanted)
        if patch:
            PreferencesSerializer(data=patch).is_valid(raise_exception=True)
            accounts.merge_preferences(user=user, patch=patch)


def _patch_towards(stored: Any, wanted: Any) -> Any:
    """The RFC 7396 merge patch that turns `stored` into `wanted` (a pushed row holds the
    whole object; the preferences service takes a merge patch)."""
    if not isinstance(stored, dict) or not isinstance(wanted, dict):
        return wanted
    patch = {key: None for key in stored if key not in wanted}
    for key, value in wanted.items():
        if key not in stored:
            patch[key] = value
        elif stored[key] != value:
            patch[key] = _patch_towards(stored[key], value)
    return patch


def _save_settings(user: User, record: dict[str, Any]) -> None:
    """Through PATCH /users/settings' serializer and service."""
    _own_row(user, record)
    serializer = UserSettingsSerializer(
        data=_fields(record, _SETTINGS_COLUMNS, set()), partial=True
    )
    serializer.is_valid(raise_exception=True)
    accounts.update_settings(user=user, changes=dict(serializer.validated_data))


# --- stored files --------------------------------------------------------------------

# Only a delete means over sync what it means over REST: a file row without its bytes could
# not be valid, and its metadata (type, size, dimensions) is what the upload measured.
_UPLOAD_ONLY = (
    "Files are created by uploading their bytes (POST /api/v1/storage/upload); their "
    "metadata is fixed at upload. Over sync a file can only be deleted."
)


def _delete_stored_file(user: User, raw: str) -> None:
    file_id = uuid_or_none(raw)
    if file_id is not None:
        # Like DELETE /storage/batch: ids that are not the caller's live files are skipped.
        storage.delete_files(owner=user, ids=[file_id])


# --- the push ------------------------------------------------------------------------------

_READ_ONLY_REASON = "This table is read-only over sync; change it through its REST endpoint."
_DELETE_ACCOUNT = "The account row is not deleted over sync: use DELETE /api/v1/users/account."
# Tables whose pushed rows are refused whole, each with why; the rest are applied below.
_REFUSED = {
    "profile": {"created": _ONE_ROW, "deleted": _DELETE_ACCOUNT},
    "settings": {"created": _ONE_ROW, "deleted": _DELETE_ACCOUNT},
    "stored_files": {"created": _UPLOAD_ONLY, "updated": _UPLOAD_ONLY},
    "workout_progress": {"deleted": _PROGRESS_HISTORY},
}


def _refuse(result: PushResult, name: str, pushed: dict) -> None:
    reasons = (
        _REFUSED.get(name, {})
        if TABLES[name].pushable
        else dict.fromkeys(("created", "updated", "deleted"), _READ_ONLY_REASON)
    )
    for kind, reason in reasons.items():
        for item in pushed[kind]:
            result.reject(name, item if kind == "deleted" else str(item.get("id")), reason)


@transaction.atomic
def push_changes(*, user: User, changes: dict[str, dict], last_pulled_at: int) -> PushResult:
    """All or nothing against conflicts (409 `sync_conflict`, nothing applied); record by
    record against invalid data (rejected, the rest applied)."""
    conflicts = _conflicts(user, changes, last_pulled_at)
    if conflicts:
        raise SyncConflict(details={"conflicts": conflicts})
    result = PushResult()
    for name, pushed in changes.items():
        _refuse(result, name, pushed)
    savers = {"food_logs": _save_food_log, "workouts": _save_workout}
    for name, save in savers.items():
        pushed = changes.get(name)
        for record in [*pushed["created"], *pushed["updated"]] if pushed else []:
            _each(result, name, str(record.get("id")), lambda r=record, s=save: s(user, r))
    _apply_workout_children(user, changes, result)
    progress = changes.get("workout_progress", {})
    for created, kind in ((True, "created"), (False, "updated")):
        for record in progress.get(kind, []):
            _each(
                result,
                "workout_progress",
                str(record.get("id")),
                lambda r=record, c=created: _save_progress(user, r, created=c),
            )
    for name, save in {"profile": _save_profile, "settings": _save_settings}.items():
        for record in changes.get(name, {}).get("updated", []):
            _each(result, name, str(record.get("id")), lambda r=record, s=save: s(user, r))
    deleters = {
        "food_logs": _delete_food_log,
        "workouts": _delete_workout,
        "stored_files": _delete_stored_file,
    }
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
