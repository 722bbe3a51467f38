"""Every write to workouts: create (idempotent on a client id), update, delete, progress."""

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import User
from analytics.events import ServerEvent
from analytics.services import track
from fitness.activity import activity_changed
from fitness.api.errors import NotFound
from fitness.inserts import insert_rows
from fitness.offline import check_client_ids, data_changed, sharing_errors
from social import selectors as social
from storage import selectors as storage
from storage.models import StoredFile
from workouts import selectors
from workouts.metrics import (
    LoggedSet,
    Mass,
    estimate_calories,
    exercise_metrics,
    normalize_exercise_name,
)
from workouts.models import (
    Exercise,
    ExerciseSet,
    Workout,
    WorkoutPhoto,
    WorkoutProgress,
    WorkoutShare,
)


class SetLogData(TypedDict, total=False):
    reps: int
    weight: Mass | None
    rpe: Any
    completed: bool


class ExerciseData(TypedDict, total=False):
    id: uuid.UUID
    name: str
    sets: int
    reps: int
    weight: Mass | None
    duration: int | None
    distance: Any
    completed: bool
    notes: str
    set_logs: list[SetLogData]


class SetRef(TypedDict):
    exercise: int | uuid.UUID
    set: int


Precondition = Callable[[Workout], None]

# Plain columns a client writes as they are.
_SCALARS = ("name", "type", "duration", "notes", "group_id", "ai_form_check")
# Either names the progress photos; the ids win, so an object sent back as it was read
# (signed URLs in progress_photos) keeps its photos.
_PHOTO_FIELDS = ("progress_photo_ids", "progress_photos")
# What a change to a workout changes for a device that syncs (sync.receivers.WORKOUT_TABLES).
_SYNC_TABLES = ("workouts", "exercises", "set_logs", "workout_progress")
# The columns an edit may change (update_workout writes only these).
_EDITABLE = (
    *_SCALARS,
    "completed",
    "completed_at",
    "calories_burned",
    "calories_estimate",
    "volume_kg",
    "updated_at",
)


@transaction.atomic
def create_workout(*, owner: User, data: dict[str, Any]) -> tuple[Workout, bool]:
    """Creates the workout with its exercises; returns it and whether it is new.

    A client id that this owner already used returns the stored workout untouched, so an
    offline client may retry blindly; the offline rules (fitness.offline) answer for an
    id used by anyone else or by the owner's deleted workout.
    """
    workout_id = data.get("id")
    if workout_id is not None and (existing := _replay(owner, workout_id)) is not None:
        return existing, False
    _check_group(owner, data)
    photos = _chosen_photos(owner, data) or []
    readers = _shareable(owner, data.get("shared_with", []))
    now = timezone.now()
    workout = Workout(
        owner=owner, id=workout_id or uuid.uuid4(), created_at=data.get("created_at") or now
    )
    _apply_scalars(workout, data, now)
    _settle_calories(workout, data, owner)
    exercises, set_logs = _build_exercises(workout, data.get("exercises", []), current_ids=set())
    # ON CONFLICT DO NOTHING instead of a savepoint around the insert: an id a concurrent
    # request stored first comes back as not inserted, and that request's workout answers.
    if not insert_rows([workout], skip_taken=workout_id is not None, read_back=True):
        if (existing := _replay(owner, workout_id)) is None:
            raise IntegrityError(f"Workout {workout_id} was neither inserted nor found.")
        return existing, False
    # The rows come back as stored, so the answer is rendered from them without a re-read,
    # and a new workout has no shares or photos to replace: each child is one insert.
    insert_rows(exercises, read_back=True)
    insert_rows(set_logs, read_back=True)
    shares = WorkoutShare.objects.bulk_create(
        WorkoutShare(workout=workout, user_id=u) for u in readers
    )
    photo_rows = WorkoutPhoto.objects.bulk_create(
        WorkoutPhoto(workout=workout, file=stored, position=position)
        for position, stored in enumerate(photos)
    )
    # No post_save signal came from the insert (sync.receivers): tell devices here.
    members = social.group_workout_readers(owner_id=owner.pk, group_ids=[workout.group_id])
    data_changed(tables=_SYNC_TABLES, user_ids=[owner.pk, *readers, *members])
    _changed(owner, workout.created_at)
    if workout.completed:
        _completed(owner, workout)
    _attach_exercises(workout, exercises, set_logs)
    _prefetched(workout, "shares", shares)
    _prefetched(workout, "photos", photo_rows)
    return workout, True


def _attach_exercises(
    workout: Workout, exercises: list[Exercise], set_logs: list[ExerciseSet]
) -> None:
    logs_of: dict[uuid.UUID, list[ExerciseSet]] = {exercise.id: [] for exercise in exercises}
    for log in set_logs:
        logs_of[log.exercise_id].append(log)
    for exercise in exercises:
        _prefetched(exercise, "set_logs", logs_of[exercise.id])
    _prefetched(workout, "exercises", exercises)


def _prefetched(instance: Any, relation: str, rows: list) -> None:
    """Sets what `instance.<relation>.all()` returns, as prefetch_related would."""
    queryset = getattr(instance, relation).all()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    instance._prefetched_objects_cache = getattr(instance, "_prefetched_objects_cache", {})
    instance._prefetched_objects_cache[relation] = queryset


def _replay(owner: User, workout_id: uuid.UUID) -> Workout | None:
    known = check_client_ids(Workout, owner=owner, ids=[workout_id])
    known.raise_refused()
    if not known.existing:
        return None
    return selectors.get_workout(user=owner, workout_id=workout_id)


@transaction.atomic
def update_workout(
    *,
    owner: User,
    workout_id: uuid.UUID,
    data: dict[str, Any],
    precondition: Precondition | None = None,
    new_exercise_ids: bool = False,
) -> Workout:
    """Applies the given fields; `exercises`, when given, replace the old ones as a whole.

    Exercises sent with the id of one of this workout's exercises keep that id, so
    progress reported by id stays meaningful across edits. With `new_exercise_ids` (sync,
    where the client creates exercises offline under its own ids) an id no exercise holds
    yet is kept too.
    """
    workout = _lock(owner, workout_id, precondition)
    workout.owner = owner
    if data.get("group_id") != workout.group_id:
        _check_group(owner, data)
    was_completed = workout.completed
    loaded_group = workout.group_id
    _apply_scalars(workout, data, timezone.now())
    # Every edit of shares takes the workout's lock first, so these stay true until commit.
    shares = list(WorkoutShare.objects.filter(workout=workout).order_by("created_at", "id"))
    photos = _chosen_photos(owner, data)
    if photos is not None:
        _prefetched(workout, "photos", _replace_photos(workout, photos))
    if "exercises" in data:
        current = set(workout.exercises.values_list("id", flat=True))
        if new_exercise_ids:
            current |= _unused_exercise_ids(data["exercises"])
        exercises, set_logs = _build_exercises(workout, data["exercises"], current_ids=current)
        Exercise.objects.filter(workout=workout).delete()
        insert_rows(exercises, read_back=True)
        insert_rows(set_logs, read_back=True)
        _attach_exercises(workout, exercises, set_logs)
    else:
        _prefetched(workout, "exercises", list(workout.exercises.prefetch_related("set_logs")))
    readers = [share.user_id for share in shares]
    if "shared_with" in data:
        shares = _replace_shares(workout, owner, data["shared_with"], shares)
    _settle_calories(workout, data, owner)
    # An UPDATE of what an edit can change instead of save(), whose post_save receiver
    # (sync.receivers) would read the readers again: they are known here.
    workout.updated_at = timezone.now()
    Workout.objects.filter(pk=workout.pk).update(
        **{field: getattr(workout, field) for field in _EDITABLE}
    )
    # Group members read it through its group; those of a group it leaves hear of it too.
    members = social.group_workout_readers(
        owner_id=owner.pk, group_ids=(loaded_group, workout.group_id)
    )
    data_changed(tables=_SYNC_TABLES, user_ids=[owner.pk, *readers, *members])
    if data.get("ai_form_check") is not None:
        # jsonb gives an object's keys back in its own order; answer them as a read would.
        workout.refresh_from_db(fields=["ai_form_check"])
    _changed(owner, workout.created_at)
    if workout.completed and not was_completed:
        _completed(owner, workout)
    _prefetched(workout, "shares", shares)
    if photos is None:
        _prefetched(workout, "photos", list(workout.photos.select_related("file")))
    return workout


def _completed(owner: User, workout: Workout) -> None:
    track(
        owner,
        ServerEvent.WORKOUT_COMPLETED,
        {"type": workout.type, "duration": workout.duration},
    )


@transaction.atomic
def delete_workout(
    *, owner: User, workout_id: uuid.UUID, precondition: Precondition | None = None
) -> None:
    """Leaves a tombstone so devices that sync later learn of the deletion."""
    workout = _lock(owner, workout_id, precondition)
    workout.deleted_at = timezone.now()
    workout.save(update_fields=["deleted_at", "updated_at"])
    _changed(owner, workout.created_at)


@transaction.atomic
def record_progress(
    *,
    owner: User,
    workout_id: uuid.UUID,
    exercises: list[int | uuid.UUID],
    sets: list[SetRef],
    completed_exercises: int | None = None,
    duration: int | None = None,
    calories_burned: int | None = None,
    timestamp: datetime | None = None,
    progress_id: uuid.UUID | None = None,
) -> WorkoutProgress:
    """Marks exercises (by index or id, or the first `completed_exercises` in order) and
    logged sets (by index) done, records the elapsed duration and calories, completes the
    workout once every exercise is done, and appends the resulting state to the progress
    history (under `progress_id` when an offline client chose it: sync push)."""
    workout = _lock(owner, workout_id)
    items = list(Exercise.objects.filter(workout=workout).prefetch_related("set_logs"))
    if completed_exercises is not None:
        if completed_exercises > len(items):
            raise ValidationError(
                {"completed_exercises": [f"This workout has {len(items)} exercises."]}
            )
        exercises = [*exercises, *range(completed_exercises)]
    done_exercises, done_sets = _resolve_marks(items, exercises, sets)
    done_exercises = list(dict.fromkeys(done_exercises))

    for exercise, log in done_sets:
        log.completed = True
        if all(other.completed for other in exercise.set_logs.all()):
            exercise.completed = True
    for exercise in done_exercises:
        # A finished exercise has no sets left to do.
        exercise.completed = True
        for log in exercise.set_logs.all():
            log.completed = True
    Exercise.objects.bulk_update(items, ["completed"])
    ExerciseSet.objects.bulk_update(
        [log for exercise in items for log in exercise.set_logs.all()], ["completed"]
    )

    moment = timestamp or timezone.now()
    changes: dict[str, Any] = {}
    if duration is not None:
        changes["duration"] = workout.duration = duration
    if calories_burned is not None:
        changes["calories_burned"] = calories_burned
    _settle_calories(workout, changes, owner)
    if items and all(exercise.completed for exercise in items) and not workout.completed:
        workout.completed, workout.completed_at = True, moment
    workout.save()
    _changed(owner, workout.created_at)

    return WorkoutProgress.objects.create(
        id=progress_id or uuid.uuid4(),
        workout=workout,
        timestamp=moment,
        completed_exercises=sum(1 for exercise in items if exercise.completed),
        total_exercises=len(items),
        duration=workout.duration,
        calories_burned=workout.calories_burned,
        calories_estimated=workout.calories_estimated,
        marked={
            "exercises": [str(exercise.id) for exercise in done_exercises],
            "sets": [
                {"exercise": str(exercise.id), "set": log.position} for exercise, log in done_sets
            ],
        },
    )


def _resolve_marks(
    items: list[Exercise], exercises: list[int | uuid.UUID], sets: list[SetRef]
) -> tuple[list[Exercise], list[tuple[Exercise, ExerciseSet]]]:
    by_id = {exercise.id: exercise for exercise in items}
    errors: dict[str, dict] = {}

    def find(ref: int | uuid.UUID) -> Exercise | None:
        if isinstance(ref, int):
            return items[ref] if ref < len(items) else None
        return by_id.get(ref)

    done_exercises = []
    for index, ref in enumerate(exercises):
        exercise = find(ref)
        if exercise is None:
            errors.setdefault("exercises", {})[index] = ["This workout has no such exercise."]
        else:
            done_exercises.append(exercise)
    done_sets = []
    for index, ref in enumerate(sets):
        exercise = find(ref["exercise"])
        if exercise is None:
            errors.setdefault("sets", {})[index] = {
                "exercise": ["This workout has no such exercise."]
            }
            continue
        logs = list(exercise.set_logs.all())
        if ref["set"] >= len(logs):
            errors.setdefault("sets", {})[index] = {
                "set": [f"This exercise has {len(logs)} logged sets (numbered from 0)."]
            }
            continue
        done_sets.append((exercise, logs[ref["set"]]))
    if errors:
        raise ValidationError(errors)
    return done_exercises, done_sets


def _lock(owner: User, workout_id: uuid.UUID, precondition: Precondition | None = None) -> Workout:
    workout = Workout.objects.select_for_update().for_owner(owner).filter(pk=workout_id).first()
    if workout is None:
        raise NotFound("No such workout.")
    if precondition is not None:
        precondition(workout)
    return workout


def _unused_exercise_ids(exercises: list[ExerciseData]) -> set[uuid.UUID]:
    given = {item["id"] for item in exercises if item.get("id") is not None}
    taken = set(Exercise.objects.filter(pk__in=given).values_list("id", flat=True))
    return given - taken


def _apply_scalars(workout: Workout, data: dict[str, Any], now: datetime) -> None:
    for field in _SCALARS:
        if field in data:
            setattr(workout, field, data[field])
    if "completed" in data:
        if not data["completed"]:
            workout.completed_at = None
        elif data.get("completed_at") is not None:
            workout.completed_at = data["completed_at"]
        elif not workout.completed or workout.completed_at is None:
            workout.completed_at = now
        workout.completed = data["completed"]
    elif data.get("completed_at") is not None:
        if not workout.completed:
            raise ValidationError(
                {"completed_at": ["Only a completed workout has a completion time."]}
            )
        workout.completed_at = data["completed_at"]


def _settle_calories(workout: Workout, data: dict[str, Any], owner: User) -> None:
    """Keeps calories the user gave; otherwise estimates them from the MET of the type.

    An estimate is remade only when what it depends on (type, duration) changes or the
    user withdraws their own figure, so a later change of body weight leaves the
    calories of past workouts alone.
    """
    given = data.get("calories_burned")
    if given is not None:
        workout.calories_burned, workout.calories_estimate = given, None
        return
    withdrawn = "calories_burned" in data
    inputs_changed = "duration" in data or "type" in data
    user_figure = workout.calories_burned is not None and not workout.calories_estimated
    if not withdrawn and (user_figure or not inputs_changed):
        return
    if workout.duration is None:
        workout.calories_burned, workout.calories_estimate = None, None
        return
    estimate = estimate_calories(
        workout_type=workout.type,
        duration_minutes=workout.duration,
        body_weight_kg=owner.weight_kg,
    )
    workout.calories_burned, workout.calories_estimate = estimate.calories, estimate.basis()


def _build_exercises(
    workout: Workout, exercises: list[ExerciseData], *, current_ids: set[uuid.UUID]
) -> tuple[list[Exercise], list[ExerciseSet]]:
    """Unsaved rows for the given exercises and their sets; sets the workout's volume."""
    errors = {}
    seen: set[uuid.UUID] = set()
    for index, item in enumerate(exercises):
        given = item.get("id")
        if given is None:
            continue
        if given not in current_ids:
            errors[index] = {"id": ["Not an exercise of this workout; leave the id out."]}
        elif given in seen:
            errors[index] = {"id": ["Each exercise id may appear once."]}
        seen.add(given)
    if errors:
        raise ValidationError({"exercises": errors})

    rows, logs = [], []
    for position, item in enumerate(exercises):
        weight = item.get("weight")
        set_logs = item.get("set_logs") or []
        metrics = exercise_metrics(
            sets=item.get("sets", 0),
            reps=item.get("reps", 0),
            weight_kg=weight.kg if weight else None,
            set_logs=[
                LoggedSet(reps=log["reps"], weight_kg=_kg(log.get("weight"))) for log in set_logs
            ],
        )
        exercise = Exercise(
            id=item.get("id") or uuid.uuid4(),
            workout=workout,
            position=position,
            name=item["name"],
            name_key=normalize_exercise_name(item["name"]),
            sets=item.get("sets", 0),
            reps=item.get("reps", 0),
            weight_kg=_kg(weight),
            weight_unit=weight.unit if weight else "",
            duration=item.get("duration"),
            distance=item.get("distance"),
            completed=item.get("completed", False),
            notes=item.get("notes", ""),
            volume_kg=metrics.volume_kg,
            top_weight_kg=metrics.top_weight_kg,
            best_one_rep_max_kg=metrics.best_one_rep_max_kg,
        )
        rows.append(exercise)
        logs.extend(
            ExerciseSet(
                exercise=exercise,
                position=set_position,
                reps=log["reps"],
                weight_kg=_kg(log.get("weight")),
                weight_unit=log["weight"].unit if log.get("weight") else "",
                rpe=log.get("rpe"),
                completed=log.get("completed", False),
            )
            for set_position, log in enumerate(set_logs)
        )
    workout.volume_kg = sum((row.volume_kg for row in rows), Decimal(0))
    return rows, logs


def _kg(weight: Mass | None) -> Decimal | None:
    return weight.kg if weight is not None else None


def _shareable(owner: User, user_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The readers, once each, in order; 400 for anyone the owner may not share with."""
    wanted = list(dict.fromkeys(user_ids))
    refused = sharing_errors(owner, [wanted])
    if refused:
        raise ValidationError(refused[0])
    return wanted


def _replace_shares(
    workout: Workout, owner: User, user_ids: list[uuid.UUID], shares: list[WorkoutShare]
) -> list[WorkoutShare]:
    """Makes the readers `user_ids`, from the current `shares`; returns the new shares in
    the order a read gives them."""
    wanted = _shareable(owner, user_ids)
    if gone := [share.pk for share in shares if share.user_id not in wanted]:
        # Through the ORM's delete, whose post_delete receiver tells each one it lost access.
        WorkoutShare.objects.filter(pk__in=gone).delete()
    already = {share.user_id for share in shares}
    added = WorkoutShare.objects.bulk_create(
        WorkoutShare(workout=workout, user_id=user_id)
        for user_id in wanted
        if user_id not in already
    )
    data_changed(tables=_SYNC_TABLES, user_ids=[share.user_id for share in added])
    return [share for share in shares if share.user_id in wanted] + added


def _check_group(owner: User, data: dict[str, Any]) -> None:
    group_id = data.get("group_id")
    if group_id is not None and not social.is_active_member(user=owner, group_id=group_id):
        raise ValidationError({"group_id": ["Not a group you are a member of."]})


def _changed(owner: User, *moments: datetime) -> None:
    activity_changed(user_id=owner.pk, kind="workout", moments=list(moments))


def _chosen_photos(owner: User, data: dict[str, Any]) -> list[StoredFile] | None:
    """The owner's files the data names as progress photos, in order; None when it names
    none (a PATCH that leaves them alone). Anyone else's file id is a 400."""
    for field in _PHOTO_FIELDS:
        if field in data:
            return storage.owned_files(owner, data[field], field=field)
    return None


def _replace_photos(workout: Workout, files: list[StoredFile]) -> list[WorkoutPhoto]:
    WorkoutPhoto.objects.filter(workout=workout).delete()
    return WorkoutPhoto.objects.bulk_create(
        WorkoutPhoto(workout=workout, file=stored, position=position)
        for position, stored in enumerate(files)
    )


@transaction.atomic
def refresh_workout_metrics(*, workout: Workout) -> None:
    """Recomputes what stats read (name keys, volume, records) after a staff edit in the
    admin, which writes exercise rows directly."""
    exercises = list(Exercise.objects.filter(workout=workout).prefetch_related("set_logs"))
    for exercise in exercises:
        metrics = exercise_metrics(
            sets=exercise.sets,
            reps=exercise.reps,
            weight_kg=exercise.weight_kg,
            set_logs=[LoggedSet(log.reps, log.weight_kg) for log in exercise.set_logs.all()],
        )
        exercise.name_key = normalize_exercise_name(exercise.name)
        exercise.volume_kg = metrics.volume_kg
        exercise.top_weight_kg = metrics.top_weight_kg
        exercise.best_one_rep_max_kg = metrics.best_one_rep_max_kg
    Exercise.objects.bulk_update(
        exercises, ["name_key", "volume_kg", "top_weight_kg", "best_one_rep_max_kg"]
    )
    workout.volume_kg = sum((exercise.volume_kg for exercise in exercises), Decimal(0))
    workout.save(update_fields=["volume_kg"])


@transaction.atomic
def save_form_check(*, owner: User, workout_id: uuid.UUID, form_check: dict[str, Any]) -> None:
    """Keeps an AI form check (ai_assistant.formcheck.service) as the workout's `ai_form_check`.
    `updated_at` moves too, so syncing devices and ETags see the change."""
    workout = _lock(owner, workout_id)
    workout.ai_form_check = form_check
    workout.save(update_fields=["ai_form_check", "updated_at"])
