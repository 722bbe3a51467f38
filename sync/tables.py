"""The tables a WatermelonDB client syncs: which rows a user reads, and their columns.

Columns are the raw snake_case names the app's schema declares; times travel as epoch
milliseconds, decimals as numbers, JSON values and lists as JSON strings (WatermelonDB
columns are strings, numbers or booleans; the app reads them with `@json`).

A pull renders plain rows, not model instances: building instances (and prefetching their
children) cost more of a small pull's CPU than the database took to answer it. Each table
names the fields it renders and the child collections it lists; sync.statements reads
them as named tuples, the collections as arrays in the same statement on PostgreSQL.
"""

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Now

from accounts.models import User
from ai_assistant.models import AIConversation, ChatMessage
from fitness.measurements import in_unit
from fitness.offline import changed_since
from food.models import FoodLog, FoodLogShare, FoodLogTag
from social import selectors as social
from social.models import Challenge, Connection, Group, GroupMembership, MemberStatus
from storage import selectors as storage
from storage.models import StoredFile
from workouts.models import (
    Exercise,
    ExerciseSet,
    Workout,
    WorkoutPhoto,
    WorkoutProgress,
    WorkoutShare,
)


def epoch_ms(value: datetime | date | int | None) -> int | None:
    """Milliseconds since 1970. An int is a time as a pull reads it, in microseconds
    (sync.statements): divided as `datetime.timestamp()` divides, it gives the same."""
    if value is None:
        return None
    if isinstance(value, int):
        return int(value / 1_000_000 * 1000)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# JSON without spaces, by one encoder: json.dumps with separators makes one a call, which
# cost about as much as encoding a small value.
compact_json = json.JSONEncoder(separators=(",", ":")).encode


def _json(value: Any) -> str | None:
    return None if value is None else compact_json(value)


def _weight(kg: Decimal | None, unit: str) -> float | None:
    return None if kg is None else in_unit(kg, unit, "mass")["value"]


# A row as `render` reads it: a named tuple of the table's fields and lists (a pull), or
# a model instance (the push side renders the exercises it holds).
Row = Any

# name: (the child rows, in their order; their key to the row; the column listed)
Lists = dict[str, tuple[QuerySet, str, str]]


@dataclass(frozen=True)
class Table:
    """One synced table. `rows` are the user's visible rows changed since a cut-off
    (tombstoned ones included, which go to `deleted`); of each, a pull reads `fields`
    (the names `render` and `is_deleted` read, `pk` for the key) and `lists`, each of
    which `render` reads as a list under its name. `render` turns a chunk into the
    client's records, with at most a query per chunk."""

    name: str
    pushable: bool = False
    fields: ClassVar[tuple[str, ...]] = ()
    lists: ClassVar[Lists] = {}

    def rows(self, user: User, since: int | None) -> QuerySet:
        raise NotImplementedError

    def is_deleted(self, row: Row) -> bool:
        return getattr(row, "deleted_at", None) is not None

    def render(self, rows: list[Row], user: User) -> list[dict]:
        raise NotImplementedError


def _visible(model, share_model, relation: str, user: User, since: int | None) -> QuerySet:
    shared = share_model.objects.filter(**{relation: OuterRef("pk")}, user=user)
    rows = model._base_manager.filter(Q(owner=user) | Exists(shared))
    if not since:
        rows = rows.filter(deleted_at__isnull=True)
    return changed_since(rows, since)


def _readers(row: Row, user: User) -> str:
    """Whom the row is shared with, as its owner sees it; a reader sees only themself."""
    readers = row.reader_ids
    if row.owner_id != user.pk:
        readers = [reader for reader in readers if reader == user.pk]
    return _json([str(reader) for reader in readers])


class FoodLogs(Table):
    fields = (
        "pk",
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
        "deleted_at",
    )
    lists = {
        "tag_names": (FoodLogTag.objects.order_by("id"), "food_log", "name"),
        "reader_ids": (FoodLogShare.objects.order_by("id"), "food_log", "user"),
    }

    def rows(self, user: User, since: int | None) -> QuerySet:
        return _visible(FoodLog, FoodLogShare, "food_log", user, since)

    def render(self, rows: list[Row], user: User) -> list[dict]:
        urls = storage.signed_urls_by_id(row.image_id for row in rows)
        return [
            {
                "id": str(row.pk),
                "owner_id": str(row.owner_id),
                "name": row.name,
                "calories": row.calories,
                "protein": _number(row.protein),
                "carbs": _number(row.carbs),
                "fat": _number(row.fat),
                "fiber": _number(row.fiber),
                "sugar": _number(row.sugar),
                "timestamp": epoch_ms(row.timestamp),
                "meal_type": row.meal_type,
                "tags": _json(row.tag_names),
                "image_id": str(row.image_id) if row.image_id else None,
                "image_url": urls.get(row.image_id) or row.image_url or None,
                "ai_analysis": _json(row.ai_analysis),
                "metadata": _json(row.metadata),
                "shared_with": _readers(row, user),
                "created_at": epoch_ms(row.created_at),
                "updated_at": epoch_ms(row.updated_at),
            }
            for row in rows
        ]


def _workouts(user: User, since: int | None) -> QuerySet:
    """The user's own workouts, those shared with them and those they read through a
    group (social's rule, `group_visible_workouts`). Since a cut-off: those written since,
    and through a group also those whose access may have begun since, which leaves no
    newer mark on the workout: the group changed (unhidden; joins and leaves touch it) or
    the viewer's or the owner's membership did (a join; an unblock re-stamps them)."""
    shared = WorkoutShare.objects.filter(workout=OuterRef("pk"), user=user)
    rows = Workout._base_manager.filter(
        Q(owner=user) | Exists(shared) | social.group_visible_workouts(user)
    )
    if not since:
        return rows.filter(deleted_at__isnull=True)
    joined = GroupMembership.objects.filter(
        Q(user=user) | Q(user_id=OuterRef("owner_id")),
        group_id=OuterRef("group_id"),
        sync_version__gte=since,
    )
    return rows.filter(
        Q(sync_version__gte=since)
        | Q(group__sync_version__gte=since)
        | (Q(group__isnull=False) & Exists(joined))
    )


class Workouts(Table):
    fields = (
        "pk",
        "owner_id",
        "name",
        "type",
        "duration",
        "calories_burned",
        "calories_estimate",
        "completed",
        "completed_at",
        "notes",
        "group_id",
        "volume_kg",
        "ai_form_check",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    lists = {
        "reader_ids": (WorkoutShare.objects.order_by("id"), "workout", "user"),
        "photo_ids": (WorkoutPhoto.objects.order_by("position"), "workout", "file"),
    }

    def rows(self, user: User, since: int | None) -> QuerySet:
        return _workouts(user, since)

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "owner_id": str(row.owner_id),
                "name": row.name,
                "type": row.type,
                "duration": row.duration,
                "calories_burned": row.calories_burned,
                "calories_estimated": row.calories_estimate is not None,
                "completed": row.completed,
                "completed_at": epoch_ms(row.completed_at),
                "notes": row.notes,
                "group_id": str(row.group_id) if row.group_id else None,
                "volume_kg": _number(row.volume_kg),
                "ai_form_check": _json(row.ai_form_check),
                "shared_with": _readers(row, user),
                "progress_photo_ids": _json([str(file_id) for file_id in row.photo_ids]),
                "created_at": epoch_ms(row.created_at),
                "updated_at": epoch_ms(row.updated_at),
            }
            for row in rows
        ]


def _workout_children(model, path: str, user: User, since: int | None) -> QuerySet:
    """Rows under the user's visible workouts. Whatever resends the workout (an edit, a
    new share, a group the user can now read it through) resends its children, so a new
    reader receives them; under a tombstoned workout they are deleted too."""
    visible = Q(**{f"{path}__in": _workouts(user, None).values("pk")})
    if not since:
        rows = model._base_manager.filter(visible)
    else:
        # The resent workouts include those tombstoned since the cut-off, which the live
        # ones leave out: their children must go as deleted too, or devices keep orphans.
        resent = Q(**{f"{path}__in": _workouts(user, since).values("pk")})
        rows = model._base_manager.filter((visible & Q(sync_version__gte=since)) | resent)
    return rows.annotate(workout_deleted_at=F(f"{path}__deleted_at"))


class Exercises(Table):
    fields = (
        "pk",
        "workout_id",
        "position",
        "name",
        "sets",
        "reps",
        "weight_kg",
        "weight_unit",
        "duration",
        "distance",
        "completed",
        "notes",
        "volume_kg",
        "workout_deleted_at",
    )

    def rows(self, user: User, since: int | None) -> QuerySet:
        return _workout_children(Exercise, "workout", user, since)

    def is_deleted(self, row: Row) -> bool:
        return row.workout_deleted_at is not None

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "workout_id": str(row.workout_id),
                "position": row.position,
                "name": row.name,
                "sets": row.sets,
                "reps": row.reps,
                "weight": _weight(row.weight_kg, row.weight_unit),
                "weight_unit": row.weight_unit or None,
                "duration": row.duration,
                "distance": _number(row.distance),
                "completed": row.completed,
                "notes": row.notes,
                "volume_kg": _number(row.volume_kg),
            }
            for row in rows
        ]


class SetLogs(Table):
    fields = (
        "pk",
        "exercise_id",
        "position",
        "reps",
        "weight_kg",
        "weight_unit",
        "rpe",
        "completed",
        "workout_deleted_at",
    )

    def rows(self, user: User, since: int | None) -> QuerySet:
        return _workout_children(ExerciseSet, "exercise__workout", user, since)

    def is_deleted(self, row: Row) -> bool:
        return row.workout_deleted_at is not None

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "exercise_id": str(row.exercise_id),
                "position": row.position,
                "reps": row.reps,
                "weight": _weight(row.weight_kg, row.weight_unit),
                "weight_unit": row.weight_unit or None,
                "rpe": _number(row.rpe),
                "completed": row.completed,
            }
            for row in rows
        ]


class Progress(Table):
    fields = (
        "pk",
        "workout_id",
        "timestamp",
        "completed_exercises",
        "total_exercises",
        "duration",
        "calories_burned",
        "calories_estimated",
        "marked",
        "created_at",
        "workout_deleted_at",
    )

    def rows(self, user: User, since: int | None) -> QuerySet:
        return _workout_children(WorkoutProgress, "workout", user, since)

    def is_deleted(self, row: Row) -> bool:
        return row.workout_deleted_at is not None

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "workout_id": str(row.workout_id),
                "timestamp": epoch_ms(row.timestamp),
                "completed_exercises": row.completed_exercises,
                "total_exercises": row.total_exercises,
                "duration": row.duration,
                "calories_burned": row.calories_burned,
                "calories_estimated": row.calories_estimated,
                "marked": _json(row.marked),
                "created_at": epoch_ms(row.created_at),
            }
            for row in rows
        ]


class StoredFiles(Table):
    """Metadata and signed URLs; the bytes go through the upload endpoint."""

    fields = ("pk", "expired")

    def rows(self, user: User, since: int | None) -> QuerySet:
        # StoredFile.live()'s rule on the database's clock, not Python's: a statement that
        # took each pull's time as a parameter could not be compiled once (sync.statements).
        rows = StoredFile.objects.filter(owner=user)
        if not since:
            rows = rows.filter(Q(expiry__isnull=True) | Q(expiry__gt=Now()))
        return changed_since(rows, since).annotate(
            expired=Q(expiry__isnull=False) & Q(expiry__lte=Now())
        )

    def is_deleted(self, row: Row) -> bool:
        return bool(row.expired)

    def render(self, rows: list[Row], user: User) -> list[dict]:
        # Signing takes the files themselves (their keys and variants): one query a chunk.
        files = StoredFile.objects.in_bulk([row.pk for row in rows])
        rows = [files[row.pk] for row in rows]
        urls = storage.signed_urls(rows)
        thumbnails = storage.signed_urls(rows, variant="thumbnail")
        return [
            {
                "id": str(row.pk),
                "original_filename": row.original_filename,
                "content_type": row.content_type,
                "size": row.size,
                "width": row.width,
                "height": row.height,
                "tags": _json(row.tags),
                "purpose": row.purpose,
                "access_level": row.access_level,
                "expiry": epoch_ms(row.expiry),
                "url": urls[row.pk],
                "thumbnail_url": thumbnails[row.pk],
                "created_at": epoch_ms(row.created_at),
                "updated_at": epoch_ms(row.updated_at),
            }
            for row in rows
        ]


class Conversations(Table):
    fields = ("pk", "session_id", "context", "created_at", "updated_at")

    def rows(self, user: User, since: int | None) -> QuerySet:
        return changed_since(AIConversation.objects.filter(owner=user), since)

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "session_id": str(row.session_id),
                "context": _json(row.context),
                "created_at": epoch_ms(row.created_at),
                "updated_at": epoch_ms(row.updated_at),
            }
            for row in rows
        ]


class ChatMessages(Table):
    fields = ("pk", "conversation_id", "role", "content", "timestamp", "interrupted")

    def rows(self, user: User, since: int | None) -> QuerySet:
        return changed_since(ChatMessage.objects.filter(conversation__owner=user), since)

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "conversation_id": str(row.conversation_id),
                "role": row.role,
                "content": row.content,
                "timestamp": epoch_ms(row.timestamp),
                "interrupted": row.interrupted,
            }
            for row in rows
        ]


class Profile(Table):
    """One row, the user's own (its id is the user id)."""

    fields = (
        "pk",
        "email",
        "name",
        "display_name",
        "birthday",
        "gender",
        "height_cm",
        "weight_kg",
        "target_weight_kg",
        "fitness_goal",
        "preferences",
        "updated_at",
    )

    def rows(self, user: User, since: int | None) -> QuerySet:
        return changed_since(User.objects.filter(pk=user.pk), since)

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "email": row.email,
                "name": row.name,
                "display_name": row.display_name,
                "birthday": epoch_ms(row.birthday),
                "gender": row.gender,
                "height_cm": _number(row.height_cm),
                "weight_kg": _number(row.weight_kg),
                "target_weight_kg": _number(row.target_weight_kg),
                "fitness_goal": row.fitness_goal,
                "preferences": _json(row.preferences),
                "updated_at": epoch_ms(row.updated_at),
            }
            for row in rows
        ]


class Settings(Profile):
    fields = (
        "pk",
        "theme_mode",
        "notifications_enabled",
        "measurement_system",
        "language",
        "timezone",
        "privacy_settings",
    )

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "theme_mode": row.theme_mode,
                "notifications_enabled": row.notifications_enabled,
                "measurement_system": row.measurement_system,
                "language": row.language,
                "timezone": row.timezone,
                "privacy_settings": _json(row.privacy_settings),
            }
            for row in rows
        ]


class Connections(Table):
    fields = ("pk", "requester_id", "addressee_id", "status", "created_at", "accepted_at")

    def rows(self, user: User, since: int | None) -> QuerySet:
        rows = Connection.objects.filter(Q(requester=user) | Q(addressee=user))
        return changed_since(rows, since)

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "requester_id": str(row.requester_id),
                "addressee_id": str(row.addressee_id),
                "status": row.status,
                "created_at": epoch_ms(row.created_at),
                "accepted_at": epoch_ms(row.accepted_at),
            }
            for row in rows
        ]


def _in_my_groups(model, group_path: str, user: User, since: int | None) -> QuerySet:
    """Rows of the groups the user is an active member of. A membership that became
    active since the last pull brings its group's rows in full; one that ended left
    tombstones (sync.database)."""
    mine = GroupMembership.objects.filter(user=user, status=MemberStatus.ACTIVE)
    rows = model.objects.filter(**{f"{group_path}__in": mine.values("group_id")})
    if not since:
        return rows
    joined = mine.filter(group_id=OuterRef(group_path)).values("sync_version")[:1]
    return rows.annotate(joined_version=Subquery(joined)).filter(
        Q(sync_version__gte=since) | Q(joined_version__gte=since)
    )


class Groups(Table):
    fields = ("pk", "name", "description", "created_by_id", "settings", "created_at", "updated_at")

    def rows(self, user: User, since: int | None) -> QuerySet:
        return _in_my_groups(Group, "id", user, since)

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "name": row.name,
                "description": row.description,
                "created_by_id": str(row.created_by_id) if row.created_by_id else None,
                "settings": _json(row.settings),
                "created_at": epoch_ms(row.created_at),
                "updated_at": epoch_ms(row.updated_at),
            }
            for row in rows
        ]


class GroupMembers(Table):
    fields = ("pk", "group_id", "user_id", "role", "status", "joined_at")

    def rows(self, user: User, since: int | None) -> QuerySet:
        rows = _in_my_groups(GroupMembership, "group_id", user, since)
        return rows.filter(Q(status=MemberStatus.ACTIVE) | Q(user=user))

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "group_id": str(row.group_id),
                "user_id": str(row.user_id),
                "role": row.role,
                "status": row.status,
                "joined_at": epoch_ms(row.joined_at),
            }
            for row in rows
        ]


class Challenges(Table):
    fields = (
        "pk",
        "group_id",
        "name",
        "description",
        "type",
        "goals",
        "timezone",
        "start_date",
        "end_date",
        "finalized_at",
        "created_at",
        "updated_at",
    )

    def rows(self, user: User, since: int | None) -> QuerySet:
        return _in_my_groups(Challenge, "group_id", user, since)

    def render(self, rows: list[Row], user: User) -> list[dict]:
        return [
            {
                "id": str(row.pk),
                "group_id": str(row.group_id),
                "name": row.name,
                "description": row.description,
                "type": row.type,
                "goals": _json(row.goals),
                "timezone": row.timezone,
                "start_date": epoch_ms(row.start_date),
                "end_date": epoch_ms(row.end_date),
                "finalized_at": epoch_ms(row.finalized_at),
                "created_at": epoch_ms(row.created_at),
                "updated_at": epoch_ms(row.updated_at),
            }
            for row in rows
        ]


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        FoodLogs("food_logs", pushable=True),
        Workouts("workouts", pushable=True),
        Exercises("exercises", pushable=True),
        SetLogs("set_logs", pushable=True),
        Progress("workout_progress", pushable=True),
        # Deletes only: bytes and metadata come with the upload (sync.services).
        StoredFiles("stored_files", pushable=True),
        Conversations("conversations"),
        ChatMessages("chat_messages"),
        Profile("profile", pushable=True),
        Settings("settings", pushable=True),
        Connections("connections"),
        Groups("groups"),
        GroupMembers("group_members"),
        Challenges("challenges"),
    )
}


def uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def normalized_id(table: str, raw: str) -> str:
    """A tombstone's row id as the client knows it (SQLite stores UUIDs without dashes)."""
    parsed = uuid_or_none(raw) if table not in ("set_logs", "group_members") else None
    return str(parsed) if parsed else raw


def chunked(rows: Iterable, size: int) -> Iterable[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
