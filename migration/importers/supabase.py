"""Supabase → this backend: `auth.users` and the app's tables, as the mapping says.

Rows are read in batches from a server-side cursor on a read-only connection, validated with
the REST serializers (the same bounds a client meets), and written per batch in bulk where
the model allows it. Every row ends as imported, updated, unchanged or rejected (with the
reason) in the run's counts, and its id map row records the hashes the report checks.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from psycopg import sql
from psycopg.rows import dict_row
from rest_framework import serializers

from accounts.api.serializers import ProfileUpdateSerializer
from accounts.models import MigrationSource, User, normalize_email
from ai_assistant.models import AIConversation, ChatMessage
from fitness.offline import data_changed
from food.api.serializers import FoodLogWriteSerializer
from food.models import FoodLog, FoodLogShare, FoodLogTag
from migration.ids import legacy_uuid
from migration.mapping import ENTITY_ORDER, source_value, used_columns
from migration.models import IdMap
from migration.normal import aware, digest, grams, instant, jsonable
from migration.runs import RunRecorder
from workouts import services as workout_services
from workouts.api.serializers import WorkoutCreateSerializer
from workouts.models import Workout

SOURCE = "supabase"
BATCH_SIZE = 1000
# Columns that are secrets of the old system, never copied into legacy data.
_SECRET_COLUMN = re.compile(r"(^encrypted_password$|_token$|^confirmation|^recovery)")
_BCRYPT = re.compile(r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$")


class Reject(Exception):
    """A row that cannot be imported as it is; the message is the reason in the report."""


def _reason(errors: Any) -> str:
    """A serializer's errors as one stable line, e.g. `calories: Ensure this value ...`."""
    if isinstance(errors, dict):
        parts = []
        for key, value in errors.items():
            parts.append(f"{key}: {_reason(value)}")
        return "; ".join(parts)
    if isinstance(errors, list):
        return " ".join(_reason(e) for e in errors[:1])
    return str(errors)


_SERIALIZERS: dict[tuple[type, str], serializers.Serializer] = {}


def _validated(
    serializer_class: type[serializers.Serializer], data: dict, *, context: dict | None = None
) -> dict:
    """The REST serializer's own validation. One instance per class is reused: building a
    serializer deep-copies its fields, which cost more than validating a row."""
    key = (serializer_class, repr(sorted((context or {}).items())))
    serializer = _SERIALIZERS.get(key)
    if serializer is None:
        serializer = _SERIALIZERS[key] = serializer_class(context=context or {})
    try:
        return dict(serializer.run_validation(data))
    except serializers.ValidationError as exc:
        raise Reject(_reason(exc.detail)) from exc


def _refusal(stored: tuple[UUID, datetime | None] | None, owner_id: UUID, noun: str) -> str:
    """Why a source row may not overwrite the row stored under its id, if it may not."""
    if stored is None:
        return ""
    if stored[0] != owner_id:
        return f"id used by another user's {noun}"
    if stored[1] is not None:
        # Deleted here (by its owner) after it was imported: a later change in the old app
        # does not bring it back, as the API never recreates a deleted log.
        return f"{noun} deleted here since the import"
    return ""


@dataclass
class Prepared:
    old_id: str
    new_id: UUID
    owner_id: UUID | None
    data: dict[str, Any]
    normal: dict[str, Any]
    legacy: dict[str, Any]
    source_hash: str
    existing: IdMap | None = None


@dataclass
class Entity:
    """How one entity is prepared, written and read back."""

    name: str
    spec: dict[str, Any]
    importer: "SupabaseImporter"
    owner_ids: dict[Any, UUID] = field(default_factory=dict)

    def legacy_of(self, row: dict[str, Any]) -> dict[str, Any]:
        used = used_columns(self.spec)
        return {
            column: jsonable(value)
            for column, value in row.items()
            if column not in used and value is not None and not _SECRET_COLUMN.search(column)
        }

    def column(self, row: dict[str, Any], target: str) -> Any:
        return source_value(row, self.spec.get("fields", {}).get(target))

    def readers(self, row: dict[str, Any]) -> tuple[list[str], list[str]]:
        """`shared_with` as our user ids, and the old ids of readers not imported (kept as
        legacy data rather than dropped)."""
        readers, unknown = [], []
        for old in self.column(row, "shared_with") or []:
            reader = self.owner_ids.get(str(old))
            if reader:
                readers.append(str(reader))
            else:
                unknown.append(str(old))
        return readers, unknown

    # Overridden per entity.
    def prepare(self, row: dict[str, Any], prepared: Prepared) -> None:
        raise NotImplementedError

    def write(self, rows: list[Prepared]) -> None:
        raise NotImplementedError

    def read_back(self, new_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        raise NotImplementedError

    # The model whose `updated_at` says a row was changed here after its import (by its
    # owner, through the API): the report counts those apart instead of as differences.
    changed_model: ClassVar[Any] = None

    def changed_at(self, new_ids: list[UUID]) -> dict[UUID, datetime]:
        if self.changed_model is None:
            return {}
        rows = self.changed_model.objects.filter(pk__in=new_ids)  # deleted ones included
        return dict(rows.values_list("id", "updated_at"))


class AuthUsers(Entity):
    def prepare(self, row, prepared):
        email = self.column(row, "email")
        if not email:
            raise Reject("missing e-mail")
        email = normalize_email(email)
        try:
            validate_email(email)
        except DjangoValidationError as exc:
            raise Reject("invalid e-mail") from exc
        password = self.column(row, "password") or ""
        banned = self.column(row, "banned_until")
        created = self.column(row, "created_at")
        prepared.data = {
            "email": email,
            # Django's BCryptPasswordHasher reads `bcrypt$<the bcrypt hash>`; the first login
            # re-hashes it with the default hasher.
            "password": f"bcrypt${password}" if _BCRYPT.match(password) else None,
            "is_active": not (banned and aware(banned) > timezone.now()),
            "date_joined": aware(created) if created else None,
            "firebase_uid": self.column(row, "firebase_uid") or None,
            "email_verified": self.column(row, "email_confirmed_at") is not None,
        }
        prepared.normal = {"email": email}

    def _match(self, rows: list[Prepared]) -> dict[str, User]:
        """Users already here (imported from Firebase, or earlier runs), by old id."""
        by_map = {p.old_id: p.existing.new_id for p in rows if p.existing}
        known = User.objects.in_bulk(list(by_map.values()))
        uids = [p.data["firebase_uid"] for p in rows if p.data["firebase_uid"]]
        by_uid = {u.firebase_uid: u for u in User.objects.filter(firebase_uid__in=uids)}
        by_email = {
            u.email: u for u in User.objects.filter(email__in=[p.data["email"] for p in rows])
        }
        matched = {}
        for p in rows:
            user = (
                known.get(by_map.get(p.old_id))
                or by_uid.get(p.data["firebase_uid"])
                or by_email.get(p.data["email"])
            )
            if user is not None:
                matched[p.old_id] = user
        return matched

    def write(self, rows):
        matched = self._match(rows)
        new_users = []
        for p in rows:
            user = matched.get(p.old_id)
            password = p.data["password"]
            if user is None:
                user = User(
                    id=p.new_id,
                    email=p.data["email"],
                    is_active=p.data["is_active"],
                    firebase_uid=p.data["firebase_uid"],
                )
                if p.data["date_joined"]:
                    user.date_joined = p.data["date_joined"]
                user.email_verified = p.data["email_verified"]
                user.migration_source = MigrationSource.SUPABASE
                user.legacy = {"supabase": p.legacy} if p.legacy else {}
                if password:
                    user.password = password
                else:
                    user.set_unusable_password()
                new_users.append(user)
            else:
                changed = []
                if user.email != p.data["email"]:
                    user.email = p.data["email"]
                    changed.append("email")
                # A password set here (or imported from Firebase) stays; only a user without
                # one, or with the bcrypt one an earlier run brought, takes the source's.
                replaceable = not user.has_usable_password() or user.password.startswith("bcrypt$")
                if password and replaceable and user.password != password:
                    user.password = password
                    changed.append("password")
                if p.data["firebase_uid"] and not user.firebase_uid:
                    user.firebase_uid = p.data["firebase_uid"]
                    changed.append("firebase_uid")
                if p.data["email_verified"] and not user.email_verified:
                    user.email_verified = True
                    changed.append("email_verified")
                if p.legacy and user.legacy.get("supabase") != p.legacy:
                    # Beside what a Firebase import kept, not over it.
                    user.legacy = {**user.legacy, "supabase": p.legacy}
                    changed.append("legacy")
                if changed:
                    user.save(update_fields=[*changed, "updated_at"])
            p.new_id = user.id
            p.owner_id = user.id
        User.objects.bulk_create(new_users)

    def read_back(self, new_ids):
        return {
            row["id"]: {"email": row["email"]}
            for row in User.objects.filter(pk__in=new_ids).values("id", "email")
        }


class Profiles(Entity):
    changed_model = User
    _MEASURED = ("height", "weight", "target_weight")

    def prepare(self, row, prepared):
        data = {}
        for target in (
            "name",
            "display_name",
            "birthday",
            "gender",
            "fitness_goal",
            *self._MEASURED,
        ):
            value = self.column(row, target)
            if value is None:
                continue
            if target in ("gender", "fitness_goal") and isinstance(value, str):
                value = value.strip().lower().replace(" ", "_").replace("-", "_")
            data[target] = value
        validated = _validated(ProfileUpdateSerializer, data)
        preferences = self.column(row, "preferences")
        if preferences is not None and not isinstance(preferences, dict):
            raise Reject("preferences: expected an object")
        if preferences is not None:
            validated["preferences"] = preferences
        prepared.new_id = prepared.owner_id
        prepared.data = validated
        prepared.normal = self._normal(validated)

    @staticmethod
    def _normal(values: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": values.get("name") or "",
            "display_name": values.get("display_name") or "",
            "birthday": jsonable(values.get("birthday")),
            "gender": values.get("gender") or "",
            "fitness_goal": values.get("fitness_goal") or "",
            **{f"{k}_cm": grams(values.get(f"{k}_cm")) for k in ("height",)},
            **{f"{k}_kg": grams(values.get(f"{k}_kg")) for k in ("weight", "target_weight")},
        }

    def write(self, rows):
        for p in rows:
            User.objects.filter(pk=p.owner_id).update(**p.data, updated_at=timezone.now())

    def read_back(self, new_ids):
        fields = (
            "id",
            "name",
            "display_name",
            "birthday",
            "gender",
            "fitness_goal",
            "height_cm",
            "weight_kg",
            "target_weight_kg",
        )
        return {
            row["id"]: self._normal(row)
            for row in User.objects.filter(pk__in=new_ids).values(*fields)
        }


class FoodLogs(Entity):
    changed_model = FoodLog
    _FIELDS = (
        "name",
        "calories",
        "protein",
        "carbs",
        "fat",
        "timestamp",
        "image_url",
        "ai_analysis",
        "meal_type",
        "tags",
    )

    def prepare(self, row, prepared):
        data: dict[str, Any] = {"id": str(prepared.new_id)}
        for target in self._FIELDS:
            value = self.column(row, target)
            if value is not None:
                data[target] = aware(value) if isinstance(value, datetime) else value
        if isinstance(data.get("meal_type"), str):
            data["meal_type"] = data["meal_type"].strip().lower()
        legacy = self.legacy_of(row)
        readers, unknown = self.readers(row)
        if unknown:
            legacy["shared_with_unknown"] = unknown
        metadata = self.column(row, "metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise Reject("metadata: expected an object")
        metadata = dict(metadata or {})
        if legacy:
            metadata["legacy"] = legacy
        data["metadata"] = metadata
        data["shared_with"] = readers
        validated = _validated(FoodLogWriteSerializer, data, context={"zone": UTC})
        prepared.data = validated
        prepared.normal = self._normal(validated)

    @staticmethod
    def _normal(v: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": v["name"],
            "calories": v["calories"],
            **{k: grams(v.get(k)) for k in ("protein", "carbs", "fat", "fiber", "sugar")},
            "timestamp": instant(v.get("timestamp")),
            "meal_type": v.get("meal_type"),
            "image_url": v.get("image_url") or "",
            "ai_analysis": v.get("ai_analysis"),
            "metadata": v.get("metadata") or {},
            "tags": sorted(v.get("tags") or []),
            "shared_with": sorted(str(r) for r in v.get("shared_with") or []),
        }

    def write(self, rows):
        claimed = {
            pk: (owner_id, deleted_at)
            for pk, owner_id, deleted_at in FoodLog.objects.filter(
                pk__in=[p.new_id for p in rows]
            ).values_list("id", "owner_id", "deleted_at")
        }
        logs, tags, shares, ids = [], [], [], []
        for p in list(rows):
            reason = _refusal(claimed.get(p.new_id), p.owner_id, "log")
            if reason:
                rows.remove(p)
                self.importer.recorder.reject(self.name, old_id=p.old_id, reason=reason)
                continue
            fields = {k: v for k, v in p.data.items() if k not in ("id", "tags", "shared_with")}
            fields.setdefault("timestamp", timezone.now())
            logs.append(FoodLog(id=p.new_id, owner_id=p.owner_id, **fields))
            tags += [FoodLogTag(food_log_id=p.new_id, name=name) for name in p.data["tags"]]
            shares += [FoodLogShare(food_log_id=p.new_id, user_id=r) for r in p.data["shared_with"]]
            ids.append(p.new_id)
        update_fields = [
            "name",
            "calories",
            "protein",
            "carbs",
            "fat",
            "fiber",
            "sugar",
            "timestamp",
            "meal_type",
            "image_url",
            "ai_analysis",
            "metadata",
            "updated_at",
        ]
        FoodLog.objects.bulk_create(
            logs, update_conflicts=True, unique_fields=["id"], update_fields=update_fields
        )
        FoodLogTag.objects.filter(food_log_id__in=ids).delete()
        FoodLogShare.objects.filter(food_log_id__in=ids).delete()
        FoodLogTag.objects.bulk_create(tags)
        FoodLogShare.objects.bulk_create(shares)
        readers = [share.user_id for share in shares]
        data_changed(tables=["food_logs"], user_ids=[*(log.owner_id for log in logs), *readers])

    def read_back(self, new_ids):
        logs = FoodLog.objects.filter(pk__in=new_ids).prefetch_related("tags", "shares")
        return {
            log.id: self._normal(
                {
                    **{k: getattr(log, k) for k in (*self._FIELDS, "fiber", "sugar", "metadata")},
                    "tags": [t.name for t in log.tags.all()],
                    "shared_with": [s.user_id for s in log.shares.all()],
                }
            )
            for log in logs
            if log.deleted_at is None
        }


class Workouts(Entity):
    changed_model = Workout
    _SCALARS = ("name", "type", "duration", "calories_burned", "completed", "created_at")

    def prepare(self, row, prepared):
        data: dict[str, Any] = {"id": str(prepared.new_id)}
        for target in (*self._SCALARS, "ai_form_check", "group_id"):
            value = self.column(row, target)
            if value is not None:
                data[target] = aware(value) if isinstance(value, datetime) else value
        if isinstance(data.get("type"), str):
            data["type"] = data["type"].strip().lower()
        legacy = self.legacy_of(row)
        photos = self.column(row, "progress_photos") or []
        if photos:
            # Linked by import_firebase_storage once the files are brought over.
            legacy["progress_photos"] = list(photos)
        exercises, extra = [], []
        for exercise in self.column(row, "exercises") or []:
            if not isinstance(exercise, dict):
                raise Reject("exercises: expected objects")
            known = {}
            for key, value in exercise.items():
                if (
                    key == "weight"
                    and isinstance(value, (int, float))
                    and not isinstance(value, bool)
                ):
                    # The plan's exercises carry a bare number: kilograms.
                    value = {"value": value, "unit": "kg"}
                if key in {
                    "name",
                    "sets",
                    "reps",
                    "weight",
                    "duration",
                    "distance",
                    "completed",
                    "notes",
                }:
                    known[key] = value
            exercises.append(known)
            extra.append({k: jsonable(v) for k, v in exercise.items() if k not in known})
        if any(extra):
            legacy["exercises_extra"] = extra
        readers, unknown = self.readers(row)
        if unknown:
            legacy["shared_with_unknown"] = unknown
        data["shared_with"] = readers
        data["exercises"] = exercises
        validated = _validated(WorkoutCreateSerializer, data)
        prepared.data = validated
        prepared.legacy = legacy
        prepared.normal = self._normal(validated)

    @staticmethod
    def _normal(v: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": v["name"],
            "type": v["type"],
            "duration": v.get("duration"),
            "completed": bool(v.get("completed")),
            "created_at": instant(v.get("created_at")),
            "calories_burned": v.get("calories_burned"),
            "exercises": [
                [e["name"], e.get("sets", 0), e.get("reps", 0)] for e in v.get("exercises") or []
            ],
        }

    def write(self, rows):
        owners = User.objects.in_bulk({p.owner_id for p in rows})
        existing = {
            pk: (owner_id, deleted_at)
            for pk, owner_id, deleted_at in Workout.objects.filter(
                pk__in=[p.new_id for p in rows]
            ).values_list("id", "owner_id", "deleted_at")
        }
        for p in list(rows):
            owner = owners[p.owner_id]
            reason = _refusal(existing.get(p.new_id), p.owner_id, "workout")
            if reason:
                rows.remove(p)
                self.importer.recorder.reject(self.name, old_id=p.old_id, reason=reason)
            elif p.new_id in existing:
                data = {k: v for k, v in p.data.items() if k not in ("id", "created_at")}
                workout_services.update_workout(owner=owner, workout_id=p.new_id, data=data)
            else:
                workout_services.create_workout(owner=owner, data=p.data)

    def read_back(self, new_ids):
        out = {}
        for w in Workout.objects.filter(pk__in=new_ids, deleted_at=None).prefetch_related(
            "exercises"
        ):
            out[w.id] = self._normal(
                {
                    **{k: getattr(w, k) for k in self._SCALARS},
                    "calories_burned": None if w.calories_estimated else w.calories_burned,
                    "exercises": [
                        {"name": e.name, "sets": e.sets, "reps": e.reps}
                        for e in sorted(w.exercises.all(), key=lambda e: e.position)
                    ],
                }
            )
        return out


class Groups(Entity):
    """No social tables yet: the row is kept whole in the id map's legacy data."""

    def prepare(self, row, prepared):
        prepared.legacy = {k: jsonable(v) for k, v in row.items() if v is not None}
        prepared.normal = prepared.legacy

    def write(self, rows):
        return None

    def read_back(self, new_ids):
        return {
            m.new_id: m.legacy
            for m in IdMap.objects.filter(source_table=self.name, new_id__in=new_ids)
        }


class AIConversations(Entity):
    changed_model = AIConversation
    _ROLES = {"user": "user", "assistant": "assistant", "model": "assistant"}

    def prepare(self, row, prepared):
        messages = []
        for index, message in enumerate(self.column(row, "messages") or []):
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                raise Reject(f"messages[{index}]: expected an object with text `content`")
            role = self._ROLES.get(str(message.get("role", "")).lower())
            if role is None:
                raise Reject(f"messages[{index}]: unknown role {message.get('role')!r}")
            stamp = message.get("timestamp")
            if isinstance(stamp, str):
                stamp = serializers.DateTimeField(default_timezone=UTC).to_internal_value(stamp)
            messages.append(
                {
                    "id": legacy_uuid(f"{self.name}.messages", f"{prepared.old_id}:{index}"),
                    "role": role,
                    "content": message["content"],
                    "timestamp": aware(stamp) if stamp else None,
                }
            )
        for name in ("context", "metadata"):
            value = self.column(row, name)
            if value is not None and not isinstance(value, dict):
                raise Reject(f"{name}: expected an object")
        session = self.column(row, "session_id")
        created = self.column(row, "created_at")
        prepared.data = {
            "session_id": UUID(str(session)) if session else prepared.new_id,
            "context": self.column(row, "context") or {},
            "metadata": self.column(row, "metadata") or {},
            "created_at": aware(created) if created else timezone.now(),
            "messages": messages,
        }
        prepared.normal = self._normal(prepared.data)

    @staticmethod
    def _normal(v: dict[str, Any]) -> dict[str, Any]:
        return {
            "context": v["context"],
            "metadata": v["metadata"],
            "messages": [[m["role"], m["content"], instant(m["timestamp"])] for m in v["messages"]],
        }

    def write(self, rows):
        for p in rows:
            AIConversation.objects.update_or_create(
                id=p.new_id,
                owner_id=p.owner_id,
                defaults={k: v for k, v in p.data.items() if k != "messages"},
            )
        ids = [p.new_id for p in rows]
        ChatMessage.objects.filter(conversation_id__in=ids).delete()
        ChatMessage.objects.bulk_create(
            ChatMessage(
                id=m["id"],
                conversation_id=p.new_id,
                role=m["role"],
                content=m["content"],
                timestamp=m["timestamp"] or p.data["created_at"],
            )
            for p in rows
            for m in p.data["messages"]
        )

    def read_back(self, new_ids):
        out = {}
        for c in AIConversation.objects.filter(pk__in=new_ids).prefetch_related("messages"):
            out[c.id] = self._normal(
                {
                    "context": c.context,
                    "metadata": c.metadata,
                    "messages": [
                        {"role": m.role, "content": m.content, "timestamp": m.timestamp}
                        for m in c.messages.all()
                    ],
                }
            )
        return out


ENTITIES: dict[str, type[Entity]] = {
    "auth_users": AuthUsers,
    "profiles": Profiles,
    "food_logs": FoodLogs,
    "workouts": Workouts,
    "groups": Groups,
    "ai_conversations": AIConversations,
}


def connect(database_url: str) -> psycopg.Connection:
    """Read-only at the session level: whatever a query says, the source is never written."""
    conn = psycopg.connect(
        database_url, options="-c default_transaction_read_only=on", row_factory=dict_row
    )
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    conn.commit()
    conn.read_only = True
    return conn


def _table(name: str) -> sql.Composed:
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))


class SupabaseImporter:
    def __init__(
        self,
        *,
        conn: psycopg.Connection,
        mapping: dict[str, dict[str, Any]],
        recorder: RunRecorder,
        since: datetime | None = None,
        batch_size: int = BATCH_SIZE,
        progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self.conn = conn
        self.mapping = mapping
        self.recorder = recorder
        self.since = since
        self.batch_size = batch_size
        self.progress = progress
        self.high_water_mark: datetime | None = since

    def run(self) -> datetime | None:
        for name in ENTITY_ORDER:
            if name in self.mapping:
                self.import_entity(name, self.mapping[name])
        return self.high_water_mark

    def rows(self, spec: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        query = sql.SQL("SELECT * FROM {}").format(_table(spec["table"]))
        params: list[Any] = []
        changed = spec.get("changed_at")
        if changed and self.since is not None:
            # `>=`: rows stamped exactly at the mark are read again (and found unchanged)
            # rather than missed.
            query += sql.SQL(" WHERE {} >= %s").format(sql.Identifier(changed))
            params.append(self.since)
        query += sql.SQL(" ORDER BY {}").format(sql.Identifier(spec["id"]))
        # A named cursor lives on the server: only one batch is ever held here.
        with self.conn.transaction(), self.conn.cursor(name="migration_rows") as cursor:
            cursor.execute(query, params)
            while batch := cursor.fetchmany(self.batch_size):
                yield batch

    def import_entity(self, name: str, spec: dict[str, Any]) -> None:
        entity = ENTITIES[name](name=name, spec=spec, importer=self)
        self.recorder.entity(name)
        done = 0
        for batch in self.rows(spec):
            with transaction.atomic():
                self.import_batch(entity, batch)
            done += len(batch)
            self.recorder.save_progress()
            if self.progress:
                self.progress(name, done)

    def _owner_ids(self, spec: dict[str, Any], values: set[str]) -> dict[str, UUID]:
        by = spec.get("owner", {}).get("by", "supabase_id")
        if by == "email":
            emails = {normalize_email(v): v for v in values}
            return {
                emails[email]: pk
                for email, pk in User.objects.filter(email__in=emails).values_list("email", "id")
            }
        if by == "firebase_uid":
            return dict(
                User.objects.filter(firebase_uid__in=values).values_list("firebase_uid", "id")
            )
        return dict(
            IdMap.objects.filter(source_table="auth_users", old_id__in=values).values_list(
                "old_id", "new_id"
            )
        )

    def import_batch(self, entity: Entity, batch: list[dict[str, Any]]) -> None:
        name, spec = entity.name, entity.spec
        recorder = self.recorder
        recorder.seen(name, len(batch))
        changed_col = spec.get("changed_at")
        if changed_col:
            stamps = [aware(r[changed_col]) for r in batch if r.get(changed_col)]
            if stamps and (self.high_water_mark is None or max(stamps) > self.high_water_mark):
                self.high_water_mark = max(stamps)
        old_ids = [str(r[spec["id"]]) for r in batch if r.get(spec["id"]) is not None]
        existing = {
            m.old_id: m for m in IdMap.objects.filter(source_table=name, old_id__in=old_ids)
        }
        owner_col = (spec.get("owner") or {}).get("column")
        wanted = {str(r[owner_col]) for r in batch if owner_col and r.get(owner_col)}
        if name in ("food_logs", "workouts"):
            # Readers named in `shared_with` are users by their Supabase id.
            wanted |= {str(x) for r in batch for x in entity.column(r, "shared_with") or []}
        entity.owner_ids = self._owner_ids(spec, wanted) if wanted else {}
        if spec.get("owner", {}).get("by") != "supabase_id" and name in ("food_logs", "workouts"):
            entity.owner_ids.update(self._owner_ids({"owner": {"by": "supabase_id"}}, wanted))
        ready: list[Prepared] = []
        for row in batch:
            old = row.get(spec["id"])
            if old is None:
                recorder.reject(name, old_id=None, reason="missing id")
                continue
            old = str(old)
            source_hash = digest(row)
            mapped = existing.get(old)
            if mapped and mapped.source_hash == source_hash:
                recorder.record(name, "unchanged")
                continue
            owner_id = None
            if owner_col:
                owner_value = row.get(owner_col)
                if owner_value is None:
                    recorder.reject(name, old_id=old, reason="missing owner")
                    continue
                owner_id = entity.owner_ids.get(str(owner_value))
                if owner_id is None:
                    recorder.reject(name, old_id=old, reason="owner not imported")
                    continue
            prepared = Prepared(
                old_id=old,
                new_id=mapped.new_id if mapped else legacy_uuid(name, old),
                owner_id=owner_id,
                data={},
                normal={},
                legacy={},
                source_hash=source_hash,
                existing=mapped,
            )
            try:
                prepared.legacy = entity.legacy_of(row) if name != "food_logs" else {}
                entity.prepare(row, prepared)
            except Reject as exc:
                recorder.reject(name, old_id=old, reason=str(exc))
                continue
            ready.append(prepared)
        if not ready:
            return
        entity.write(ready)
        IdMap.objects.bulk_create(
            [
                IdMap(
                    source_table=name,
                    old_id=p.old_id,
                    new_id=p.new_id,
                    owner_id=p.owner_id,
                    source_hash=p.source_hash,
                    content_hash=digest(p.normal),
                    legacy=p.legacy,
                    run=recorder.run,
                )
                for p in ready
            ],
            update_conflicts=True,
            unique_fields=["source_table", "old_id"],
            update_fields=[
                "new_id",
                "owner",
                "source_hash",
                "content_hash",
                "legacy",
                "run",
                "updated_at",
            ],
        )
        for p in ready:
            recorder.record(name, "updated" if p.existing else "imported")
