"""The way back: what was created or changed here since the cut-over, in the source shapes.

Users go out as a Firebase Auth import file (`firebase auth:import users.json`), without
password hashes (ours are Argon2, which Firebase cannot read: those users reset their
password after a rollback). Every other entity goes out as JSON lines, one row per line, in
the mapping's source columns, with the old ids wherever a row came from the source.
"""

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from django.db.models import Q

from accounts.models import User
from ai_assistant.models import AIConversation
from food.models import FoodLog
from migration.mapping import load_mapping
from migration.models import IdMap
from migration.normal import jsonable
from workouts.models import Workout

CHUNK = 1000


def _ms(value: datetime | None) -> str | None:
    return None if value is None else str(int(value.timestamp() * 1000))


class OldIds:
    """New id → old id per entity, looked up per chunk (never the whole map at once)."""

    @staticmethod
    def of(entity: str, new_ids: list[UUID]) -> dict[UUID, str]:
        return dict(
            IdMap.objects.filter(source_table=entity, new_id__in=new_ids).values_list(
                "new_id", "old_id"
            )
        )


def _chunks(queryset) -> Iterator[list]:
    chunk: list = []
    for obj in queryset.iterator(chunk_size=CHUNK):
        chunk.append(obj)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Exporter:
    def __init__(self, *, since: datetime, out: Path, mapping_path: str | None = None) -> None:
        self.since = since
        self.out = out
        self.mapping = load_mapping(mapping_path)
        self.counts: dict[str, int] = {}

    def run(self) -> dict[str, int]:
        self.out.mkdir(parents=True, exist_ok=True)
        self.users()
        for name, rows in (
            ("profiles", self.profiles()),
            ("food_logs", self.food_logs()),
            ("workouts", self.workouts()),
            ("ai_conversations", self.ai_conversations()),
        ):
            if name in self.mapping:
                self._write_lines(name, rows)
        return self.counts

    def _changed(self, model, field: str = "updated_at"):
        return model.objects.filter(Q(**{f"{field}__gte": self.since})).order_by("pk")

    def _owner_value(self, entity: str, user_ids: list[UUID]) -> dict[UUID, Any]:
        by = self.mapping[entity]["owner"]["by"]
        if by == "email":
            return dict(User.objects.filter(pk__in=user_ids).values_list("id", "email"))
        if by == "firebase_uid":
            return dict(User.objects.filter(pk__in=user_ids).values_list("id", "firebase_uid"))
        old = OldIds.of("auth_users", user_ids)
        return {pk: old.get(pk, str(pk)) for pk in user_ids}

    def _row(self, entity: str, values: dict[str, Any], *, old_id: str, owner: Any) -> dict:
        """Our values under the mapping's source column names; keys the mapping does not name
        are left out, legacy columns put back under their own names."""
        spec = self.mapping[entity]
        row: dict[str, Any] = {spec["id"]: old_id}
        if spec.get("owner"):
            row[spec["owner"]["column"]] = owner
        for target, column in spec.get("fields", {}).items():
            if column and "." not in column and target in values:
                row[column] = jsonable(values[target])
        for column, value in (values.get("_legacy") or {}).items():
            row.setdefault(column, value)
        return row

    def _write_lines(self, name: str, rows: Iterator[dict[str, Any]]) -> None:
        count = 0
        with (self.out / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
        self.counts[name] = count

    def users(self) -> None:
        """Firebase's import format; `localId` is the Firebase uid the user came with, or
        our id for users who signed up here."""
        users = []
        for user in self._changed(User).iterator(chunk_size=CHUNK):
            record = {
                "localId": user.firebase_uid or str(user.pk),
                "email": user.email,
                "emailVerified": bool(getattr(user, "email_verified", False)),
                "displayName": user.display_name or user.name or None,
                "disabled": not user.is_active,
                "createdAt": _ms(user.date_joined),
                "lastSignedInAt": _ms(user.last_login),
            }
            users.append({k: v for k, v in record.items() if v is not None})
        (self.out / "users.json").write_text(
            json.dumps({"users": users}, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        self.counts["users"] = len(users)

    def profiles(self) -> Iterator[dict[str, Any]]:
        for chunk in _chunks(self._changed(User)):
            old = OldIds.of("auth_users", [u.pk for u in chunk])
            for u in chunk:
                values = {
                    "email": u.email,
                    "name": u.name,
                    "display_name": u.display_name,
                    "birthday": u.birthday,
                    "gender": u.gender or None,
                    "fitness_goal": u.fitness_goal or None,
                    "preferences": u.preferences,
                    "height": {"value": float(u.height_cm), "unit": "cm"} if u.height_cm else None,
                    "weight": {"value": float(u.weight_kg), "unit": "kg"} if u.weight_kg else None,
                    "target_weight": {"value": float(u.target_weight_kg), "unit": "kg"}
                    if u.target_weight_kg
                    else None,
                }
                old_id = old.get(u.pk, str(u.pk))
                yield self._row("profiles", values, old_id=old_id, owner=old_id)

    def food_logs(self) -> Iterator[dict[str, Any]]:
        logs = self._changed(FoodLog).prefetch_related("tags", "shares")
        for chunk in _chunks(logs):
            old = OldIds.of("food_logs", [log.pk for log in chunk])
            owners = self._owner_value("food_logs", list({log.owner_id for log in chunk}))
            readers = OldIds.of(
                "auth_users", [s.user_id for log in chunk for s in log.shares.all()]
            )
            for log in chunk:
                metadata = dict(log.metadata or {})
                legacy = metadata.pop("legacy", {})
                values = {
                    "name": log.name,
                    "calories": log.calories,
                    "protein": float(log.protein),
                    "carbs": float(log.carbs),
                    "fat": float(log.fat),
                    "timestamp": log.timestamp,
                    "image_url": log.image_url or None,
                    "ai_analysis": log.ai_analysis,
                    "metadata": metadata,
                    "meal_type": log.meal_type,
                    "tags": [t.name for t in log.tags.all()],
                    "shared_with": [
                        readers.get(s.user_id, str(s.user_id)) for s in log.shares.all()
                    ],
                    "_legacy": {k: v for k, v in legacy.items() if k != "shared_with_unknown"},
                }
                row = self._row(
                    "food_logs",
                    values,
                    old_id=old.get(log.pk, str(log.pk)),
                    owner=owners[log.owner_id],
                )
                if log.deleted_at is not None:
                    # The source has no tombstones: the rollback deletes these rows.
                    row["_deleted_at"] = jsonable(log.deleted_at)
                yield row

    def workouts(self) -> Iterator[dict[str, Any]]:
        workouts = self._changed(Workout).prefetch_related("exercises", "shares")
        for chunk in _chunks(workouts):
            maps = {
                m.new_id: m
                for m in IdMap.objects.filter(
                    source_table="workouts", new_id__in=[w.pk for w in chunk]
                )
            }
            owners = self._owner_value("workouts", list({w.owner_id for w in chunk}))
            for w in chunk:
                mapped = maps.get(w.pk)
                legacy = dict(mapped.legacy) if mapped else {}
                photos = legacy.pop("progress_photos", [])
                legacy.pop("exercises_extra", None)
                values = {
                    "name": w.name,
                    "type": w.type,
                    "duration": w.duration,
                    "calories_burned": w.calories_burned,
                    "completed": w.completed,
                    "created_at": w.created_at,
                    "exercises": [
                        {
                            "name": e.name,
                            "sets": e.sets,
                            "reps": e.reps,
                            "weight": float(e.weight_kg) if e.weight_kg is not None else None,
                            "duration": e.duration,
                            "distance": float(e.distance) if e.distance is not None else None,
                            "completed": e.completed,
                            "notes": e.notes,
                        }
                        for e in sorted(w.exercises.all(), key=lambda e: e.position)
                    ],
                    "progress_photos": photos,
                    "ai_form_check": w.ai_form_check,
                    "shared_with": [str(s.user_id) for s in w.shares.all()],
                    "group_id": w.group_id,
                    "_legacy": legacy,
                }
                old_id = mapped.old_id if mapped else str(w.pk)
                row = self._row("workouts", values, old_id=old_id, owner=owners[w.owner_id])
                if w.deleted_at is not None:
                    row["_deleted_at"] = jsonable(w.deleted_at)
                yield row

    def ai_conversations(self) -> Iterator[dict[str, Any]]:
        conversations = self._changed(AIConversation).prefetch_related("messages")
        for chunk in _chunks(conversations):
            old = OldIds.of("ai_conversations", [c.pk for c in chunk])
            owners = self._owner_value("ai_conversations", list({c.owner_id for c in chunk}))
            for c in chunk:
                values = {
                    "session_id": c.session_id,
                    "context": c.context,
                    "metadata": c.metadata,
                    "created_at": c.created_at,
                    "messages": [
                        {"role": m.role, "content": m.content, "timestamp": m.timestamp}
                        for m in c.messages.all()
                    ],
                }
                yield self._row(
                    "ai_conversations",
                    values,
                    old_id=old.get(c.pk, str(c.pk)),
                    owner=owners[c.owner_id],
                )
