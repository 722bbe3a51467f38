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
from django.db.models import Max
from django.utils import timezone
from psycopg import sql
from psycopg.rows import dict_row
from rest_framework import serializers

from accounts.api.serializers import ProfileUpdateSerializer
from accounts.models import MigrationSource, User, normalize_email
from ai_assistant.models import AIConversation, ChatMessage
from food.api.serializers import FoodLogWriteSerializer
from food.models import FoodLog, FoodLogShare, FoodLogTag
from migration.ids import legacy_uuid
from migration.mapping import ENTITY_ORDER, source_value, used_columns
from migration.models import DELETED_HERE, IMPORTED, SUPABASE_LEGACY, IdMap
from migration.normal import aware, digest, grams, instant, jsonable
from migration.runs import RunRecorder
from social.api.serializers import ChallengeWriteSerializer, GroupWriteSerializer
from social.models import (
    MAX_GROUP_MEMBERS,
    Challenge,
    ChallengeParticipant,
    Group,
    GroupMembership,
    MemberStatus,
    Role,
    default_group_settings,
)
from social.tasks import refresh_leaderboard
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

    def people(self, row: dict[str, Any]) -> list[Any]:
        """Users the row names besides its owner (readers, members), looked up per batch."""
        return list(self.column(row, "shared_with") or [])

    def load(self, batch: list[dict[str, Any]]) -> None:
        """Per-batch lookups an entity needs before its rows are prepared."""

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
                user.legacy = {SUPABASE_LEGACY: p.legacy} if p.legacy else {}
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
                if p.legacy and user.legacy.get(SUPABASE_LEGACY) != p.legacy:
                    # Beside what a Firebase import kept, not over it.
                    user.legacy = {**user.legacy, SUPABASE_LEGACY: p.legacy}
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
    group_ids: dict[str, UUID]
    active: set[tuple[UUID, UUID]]

    def load(self, batch):
        """The batch's groups as imported (groups come first), and who is active in them."""
        olds = {str(v) for r in batch if (v := self.column(r, "group_id")) is not None}
        self.group_ids = dict(
            IdMap.objects.filter(source_table="groups", old_id__in=olds).values_list(
                "old_id", "new_id"
            )
        )
        self.active = set(
            GroupMembership.objects.filter(
                group_id__in=self.group_ids.values(), status=MemberStatus.ACTIVE
            ).values_list("group_id", "user_id")
        )

    def prepare(self, row, prepared):
        data: dict[str, Any] = {"id": str(prepared.new_id)}
        for target in (*self._SCALARS, "ai_form_check"):
            value = self.column(row, target)
            if value is not None:
                data[target] = aware(value) if isinstance(value, datetime) else value
        if isinstance(data.get("type"), str):
            data["type"] = data["type"].strip().lower()
        legacy = self.legacy_of(row)
        old_group = self.column(row, "group_id")
        if old_group is not None:
            group_id = self.group_ids.get(str(old_group))
            if group_id is not None and (group_id, prepared.owner_id) in self.active:
                data["group_id"] = str(group_id)
            else:
                # A group that was not imported, or one its owner is not an active member
                # of (a workout links only to such a group here): the link is kept, unused.
                legacy["group_id_unmapped"] = str(old_group)
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
            "group_id": jsonable(v.get("group_id")),
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
                continue
            try:
                if p.new_id in existing:
                    data = {k: v for k, v in p.data.items() if k not in ("id", "created_at")}
                    workout_services.update_workout(owner=owner, workout_id=p.new_id, data=data)
                else:
                    workout_services.create_workout(owner=owner, data=p.data)
            except serializers.ValidationError as exc:
                # The service's own rules (checked under its locks), e.g. a group left since.
                rows.remove(p)
                self.importer.recorder.reject(
                    self.name, old_id=p.old_id, reason=_reason(exc.detail)
                )

    def read_back(self, new_ids):
        out = {}
        for w in Workout.objects.filter(pk__in=new_ids, deleted_at=None).prefetch_related(
            "exercises"
        ):
            out[w.id] = self._normal(
                {
                    **{k: getattr(w, k) for k in self._SCALARS},
                    "calories_burned": None if w.calories_estimated else w.calories_burned,
                    "group_id": w.group_id,
                    "exercises": [
                        {"name": e.name, "sets": e.sets, "reps": e.reps}
                        for e in sorted(w.exercises.all(), key=lambda e: e.position)
                    ],
                }
            )
        return out


class Groups(Entity):
    """A group row becomes a `Group`, its `members` memberships (the creator the owner) and
    its `challenges` challenges with their participants (active members only). What has no
    place here stays in the id map's legacy data: members who were not imported, keys
    without a field, challenges that fail validation, and the source's leaderboards, which
    are computed anew from the imported data once the run is over."""

    changed_model = Group
    _MEMBER_KEYS = ("user_id", "role", "status", "joined_at")
    _CHALLENGE_KEYS = ("name", "description", "type", "goals", "timezone", "start_date", "end_date")
    _SETTINGS_KEYS = ("visibility", "join_policy", "max_members", "members_can_invite")

    def people(self, row):
        refs = [
            m["user_id"]
            for m in self.column(row, "members") or []
            if isinstance(m, dict) and m.get("user_id") is not None
        ]
        for challenge in self.column(row, "challenges") or []:
            if isinstance(challenge, dict) and isinstance(challenge.get("participants"), list):
                refs += challenge["participants"]
        return refs

    def prepare(self, row, prepared):
        legacy = prepared.legacy
        settings = self.column(row, "settings")
        if settings is not None and not isinstance(settings, dict):
            raise Reject("settings: expected an object")
        settings = settings or {}
        validated = _validated(
            GroupWriteSerializer,
            {
                "name": self.column(row, "name"),
                "description": self.column(row, "description") or "",
                "settings": {k: v for k, v in settings.items() if k in self._SETTINGS_KEYS},
            },
        )
        settings_extra = {
            k: jsonable(v) for k, v in settings.items() if k not in self._SETTINGS_KEYS
        }
        created = self.column(row, "created_at")
        created = aware(created) if isinstance(created, datetime) else timezone.now()
        members = self._members(row, prepared, created)
        merged = {**default_group_settings(), **validated.get("settings", {})}
        active = sum(1 for m in members.values() if m["status"] == MemberStatus.ACTIVE)
        if active > MAX_GROUP_MEMBERS:
            raise Reject(f"more than {MAX_GROUP_MEMBERS} active members")
        if active > merged["max_members"]:
            # The old app had no seat limit: the group gets as many seats as it has members
            # (a limit the source set is kept, for the way back).
            if "max_members" in settings:
                settings_extra["max_members"] = settings["max_members"]
            merged["max_members"] = active
        if settings_extra:
            legacy["settings_extra"] = settings_extra
        prepared.data = {
            "name": validated["name"],
            "description": validated["description"],
            "settings": merged,
            "created_at": created,
            "members": members,
            "challenges": self._challenges(row, prepared, members),
        }
        prepared.normal = self._normal(prepared.data)

    @staticmethod
    def _when(value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return aware(value) if value else None
        try:
            return serializers.DateTimeField(default_timezone=UTC).to_internal_value(value)
        except serializers.ValidationError as exc:
            raise Reject("invalid time") from exc

    def _members(
        self, row: dict[str, Any], prepared: Prepared, created: datetime
    ) -> dict[UUID, dict[str, Any]]:
        members: dict[UUID, dict[str, Any]] = {}
        extra: dict[str, dict[str, Any]] = {}
        not_imported: list[Any] = []
        for raw in self.column(row, "members") or []:
            user_id = self.owner_ids.get(str(raw.get("user_id"))) if isinstance(raw, dict) else None
            try:
                joined = self._when(raw.get("joined_at")) if user_id else None
            except Reject:
                user_id = None
            role = str(raw.get("role") or Role.MEMBER).strip().lower() if user_id else ""
            status = (
                str(raw.get("status") or MemberStatus.ACTIVE).strip().lower() if user_id else ""
            )
            if (
                user_id is None
                or user_id in members
                or role not in Role.values
                or status not in MemberStatus.values
            ):
                not_imported.append(jsonable(raw))
                continue
            kept = {k: jsonable(v) for k, v in raw.items() if k not in self._MEMBER_KEYS}
            if role == Role.OWNER and user_id != prepared.owner_id:
                # One owner, the creator: anyone else the source calls owner is an admin here.
                kept["role"] = raw["role"]
                role = Role.ADMIN
            if status == MemberStatus.ACTIVE:
                joined = joined or created
            elif joined:
                # Only an active membership has a joining time here.
                kept["joined_at"] = jsonable(raw["joined_at"])
                joined = None
            members[user_id] = {"role": role, "status": status, "joined_at": joined}
            if kept:
                extra[str(user_id)] = kept
        creator = members.setdefault(
            prepared.owner_id,
            {"role": Role.OWNER, "status": MemberStatus.ACTIVE, "joined_at": created},
        )
        for key, value in (("role", Role.OWNER), ("status", MemberStatus.ACTIVE)):
            if creator[key] != value:
                extra.setdefault(str(prepared.owner_id), {})[key] = creator[key]
                creator[key] = value
        creator["joined_at"] = creator["joined_at"] or created
        if not_imported:
            prepared.legacy["members_not_imported"] = not_imported
        if extra:
            prepared.legacy["members_extra"] = extra
        return members

    def _challenge_id(self, group_old_id: str, raw_id: Any, index: int) -> UUID:
        try:
            return UUID(str(raw_id))
        except ValueError:
            key = raw_id if raw_id not in (None, "") else f"#{index}"
            return legacy_uuid(f"{self.name}.challenges", f"{group_old_id}:{key}")

    def _challenges(
        self, row: dict[str, Any], prepared: Prepared, members: dict[UUID, dict[str, Any]]
    ) -> list[dict[str, Any]]:
        challenges: list[dict[str, Any]] = []
        extra: dict[str, dict[str, Any]] = {}
        not_imported: list[dict[str, Any]] = []
        for index, raw in enumerate(self.column(row, "challenges") or []):
            if not isinstance(raw, dict):
                not_imported.append({"challenge": jsonable(raw), "reason": "expected an object"})
                continue
            challenge_id = self._challenge_id(prepared.old_id, raw.get("id"), index)
            if any(c["id"] == challenge_id for c in challenges):
                not_imported.append({"challenge": jsonable(raw), "reason": "id repeated"})
                continue
            data = {k: raw[k] for k in self._CHALLENGE_KEYS if raw.get(k) is not None}
            if isinstance(data.get("type"), str):
                data["type"] = data["type"].strip().lower()
            kept = {
                k: jsonable(v)
                for k, v in raw.items()
                if k not in (*self._CHALLENGE_KEYS, "participants")
                and (k != "id" or str(v) != str(challenge_id))  # an id not kept as it was
            }
            goals = raw.get("goals")
            if isinstance(goals, dict):
                data["goals"] = {k: v for k, v in goals.items() if k in ("target", "unit")}
                goals_extra = {k: jsonable(v) for k, v in goals.items() if k not in data["goals"]}
                if goals_extra:
                    kept["goals_extra"] = goals_extra
            try:
                validated = _validated(
                    ChallengeWriteSerializer, data, context={"default_timezone": "UTC"}
                )
            except Reject as exc:
                not_imported.append({"challenge": jsonable(raw), "reason": str(exc)})
                continue
            refs = raw.get("participants")
            if refs is not None and not isinstance(refs, list):
                kept["participants"] = jsonable(refs)
                refs = None
            participants: list[UUID] = []
            absent = []
            for ref in refs or []:
                user_id = self.owner_ids.get(str(ref))
                member = members.get(user_id) or {}
                if member.get("status") == MemberStatus.ACTIVE and user_id not in participants:
                    participants.append(user_id)
                else:
                    absent.append(jsonable(ref))
            if absent:
                kept["participants_not_imported"] = absent
            challenges.append({"id": challenge_id, **validated, "participants": participants})
            if kept:
                extra[str(challenge_id)] = kept
        if not_imported:
            prepared.legacy["challenges_not_imported"] = not_imported
        if extra:
            prepared.legacy["challenges_extra"] = extra
        return challenges

    @staticmethod
    def _normal(v: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": v["name"],
            "description": v["description"],
            "settings": v["settings"],
            "created_at": instant(v["created_at"]),
            "members": {
                str(user_id): [m["role"], m["status"], instant(m["joined_at"])]
                for user_id, m in v["members"].items()
            },
            "challenges": {
                str(c["id"]): [
                    c["name"],
                    c["description"],
                    c["type"],
                    c["goals"],
                    c["timezone"],
                    instant(c["start_date"]),
                    instant(c["end_date"]),
                    sorted(str(p) for p in c["participants"]),
                ]
                for c in v["challenges"]
            },
        }

    def write(self, rows):
        ids = [p.new_id for p in rows]
        stored = set(Group.objects.filter(pk__in=ids).values_list("id", flat=True))
        claimed = dict(
            Challenge.objects.filter(
                pk__in=[c["id"] for p in rows for c in p.data["challenges"]]
            ).values_list("id", "group_id")
        )
        owners_here = dict(
            GroupMembership.objects.filter(group_id__in=ids, role=Role.OWNER).values_list(
                "group_id", "user_id"
            )
        )
        for p in list(rows):
            if p.existing is None and p.new_id in stored:
                reason = "id used by another group"
            elif p.existing is not None and p.new_id not in stored:
                # Deleted here by its owner: a later change in the old app does not bring
                # it back, as with logs and workouts.
                reason = "group deleted here since the import"
            else:
                reason = ""
            if reason:
                rows.remove(p)
                self.importer.recorder.reject(self.name, old_id=p.old_id, reason=reason)
                continue
            self._write_group(p, claimed, owners_here.get(p.new_id))
        # The rows a delta pass did not bring (members who joined here, challenges made
        # here) are kept, so they are part of what the report expects to read back.
        here = self.read_back([p.new_id for p in rows])
        for p in rows:
            found = here.get(p.new_id, {"members": {}, "challenges": {}})
            normal = self._normal(p.data)
            for key in ("members", "challenges"):
                normal[key] = {**found[key], **normal[key]}
            for challenge_id, values in normal["challenges"].items():
                kept_here = found["challenges"].get(challenge_id)
                if kept_here:
                    values[-1] = sorted({*values[-1], *kept_here[-1]})
            p.normal = normal

    def _drop_left_here(self, p: Prepared) -> None:
        """Members and participants an earlier run imported who left here since: a later
        change of the row in the old app does not bring them back (as with deleted logs)."""
        data, group_id = p.data, p.new_id
        previous = (p.existing.legacy if p.existing else {}).get(IMPORTED, {})
        taking_part: set[tuple[UUID, UUID]] = set()
        if previous:
            present = set(
                GroupMembership.objects.filter(group_id=group_id).values_list("user_id", flat=True)
            )
            for user_id in list(data["members"]):
                if str(user_id) in previous.get("members", []) and user_id not in present:
                    del data["members"][user_id]
            taking_part = set(
                ChallengeParticipant.objects.filter(challenge__group_id=group_id).values_list(
                    "challenge_id", "user_id"
                )
            )
        for challenge in data["challenges"]:
            before = previous.get("participants", {}).get(str(challenge["id"]), [])
            challenge["participants"] = [
                user_id
                for user_id in challenge["participants"]
                if user_id in data["members"]
                and not (str(user_id) in before and (challenge["id"], user_id) not in taking_part)
            ]
        p.legacy[IMPORTED] = {
            "members": sorted({*previous.get("members", []), *map(str, data["members"])}),
            "participants": {
                str(c["id"]): sorted(
                    {
                        *previous.get("participants", {}).get(str(c["id"]), []),
                        *map(str, c["participants"]),
                    }
                )
                for c in data["challenges"]
            },
        }

    def _write_group(self, p: Prepared, claimed: dict[UUID, UUID], owner_here: UUID | None):
        data = p.data
        group_id = p.new_id
        self._drop_left_here(p)
        if owner_here is not None and owner_here != p.owner_id:
            # Ownership was handed over here since the import: it stays where it went.
            if p.owner_id in data["members"]:
                data["members"][p.owner_id]["role"] = Role.ADMIN
            if owner_here in data["members"]:
                data["members"][owner_here].update(role=Role.OWNER, status=MemberStatus.ACTIVE)
        Group.objects.update_or_create(
            id=group_id,
            defaults={
                "name": data["name"],
                "description": data["description"],
                "settings": data["settings"],
                "created_by_id": p.owner_id,
            },
        )
        Group.objects.filter(pk=group_id).update(created_at=data["created_at"])
        GroupMembership.objects.bulk_create(
            [
                GroupMembership(group_id=group_id, user_id=user_id, **member)
                for user_id, member in data["members"].items()
            ],
            update_conflicts=True,
            unique_fields=["group", "user"],
            update_fields=["role", "status", "joined_at"],
        )
        challenges = []
        for challenge in list(data["challenges"]):
            if claimed.get(challenge["id"], group_id) != group_id:
                data["challenges"].remove(challenge)
                p.legacy.setdefault("challenges_not_imported", []).append(
                    {"id": str(challenge["id"]), "reason": "id used by another group's challenge"}
                )
                continue
            challenges.append(challenge)
        Challenge.objects.bulk_create(
            [
                Challenge(
                    group_id=group_id,
                    created_by_id=p.owner_id,
                    **{k: v for k, v in c.items() if k != "participants"},
                )
                for c in challenges
            ],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=[
                "name",
                "description",
                "type",
                "goals",
                "timezone",
                "start_date",
                "end_date",
                "updated_at",
            ],
        )
        ChallengeParticipant.objects.bulk_create(
            [
                ChallengeParticipant(challenge_id=c["id"], user_id=user_id)
                for c in challenges
                for user_id in c["participants"]
            ],
            ignore_conflicts=True,
        )
        self.importer.challenges.update(c["id"] for c in challenges)

    def read_back(self, new_ids):
        groups = Group.objects.filter(pk__in=new_ids).prefetch_related(
            "memberships", "challenges__participants"
        )
        return {
            g.id: self._normal(
                {
                    "name": g.name,
                    "description": g.description,
                    "settings": g.settings,
                    "created_at": g.created_at,
                    "members": {
                        m.user_id: {"role": m.role, "status": m.status, "joined_at": m.joined_at}
                        for m in g.memberships.all()
                    },
                    "challenges": [
                        {
                            **{k: getattr(c, k) for k in ("id", *self._CHALLENGE_KEYS)},
                            "participants": [x.user_id for x in c.participants.all()],
                        }
                        for c in g.challenges.all()
                    ],
                }
            )
            for g in groups
        }

    def changed_at(self, new_ids):
        """A group changes here with its memberships, challenges and participants too. The
        social services move the group's `updated_at` on what leaves no row behind (a role
        change, a removal, leaving a challenge); a group deleted here leaves its moment in
        the id map (migration.signals)."""
        stamps = dict(Group.objects.filter(pk__in=new_ids).values_list("id", "updated_at"))
        for model, key, moment in (
            (GroupMembership, "group_id", "created_at"),
            (Challenge, "group_id", "updated_at"),
            (ChallengeParticipant, "challenge__group_id", "joined_at"),
        ):
            latest = (
                model.objects.filter(**{f"{key}__in": new_ids})
                .values(key)
                .annotate(last=Max(moment))
                .values_list(key, "last")
            )
            for group_id, last in latest:
                stamps[group_id] = max(stamps.get(group_id, last), last)
        for new_id, legacy in IdMap.objects.filter(
            source_table=self.name, new_id__in=set(new_ids) - set(stamps)
        ).values_list("new_id", "legacy"):
            if legacy.get(DELETED_HERE):
                stamps[new_id] = datetime.fromisoformat(legacy[DELETED_HERE])
        return stamps


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
        # Challenges this run wrote: their boards are computed once every entity is in.
        self.challenges: set[UUID] = set()

    def run(self) -> datetime | None:
        for name in ENTITY_ORDER:
            if name in self.mapping:
                self.import_entity(name, self.mapping[name])
        for challenge_id in sorted(self.challenges, key=str):
            # After commit (a dry run's rollback never gets there); `after_close`: a challenge
            # that ended before the import still gets the board its data earned.
            refresh_leaderboard.delay_on_commit(str(challenge_id), after_close=True)
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
        # Readers in `shared_with` and a group's members and participants, named as the
        # owner is or by their Supabase id.
        others = {str(x) for r in batch for x in entity.people(r)}
        wanted |= others
        entity.owner_ids = self._owner_ids(spec, wanted) if wanted else {}
        if others and spec.get("owner", {}).get("by") != "supabase_id":
            entity.owner_ids.update(self._owner_ids({"owner": {"by": "supabase_id"}}, others))
        entity.load(batch)
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
