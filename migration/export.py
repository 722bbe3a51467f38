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

from django.db.models import Prefetch, Q

from accounts.models import User
from ai_assistant.models import AIConversation
from food.models import FoodLog
from migration.mapping import load_mapping
from migration.models import DELETED_HERE, IMPORTED, IdMap
from migration.normal import jsonable
from social.models import Group
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
            ("groups", self.groups()),
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

    def groups(self) -> Iterator[dict[str, Any]]:
        """The plan's `groups` rows: `members` and `challenges` as JSONB arrays with the
        users as the source named them, what the import kept aside merged back in, and
        each challenge's board as it stands here. A group deleted here since goes out as a
        tombstone (`_deleted_at`)."""
        changed = (
            Group.objects.filter(
                Q(updated_at__gte=self.since)
                | Q(memberships__created_at__gte=self.since)
                | Q(challenges__updated_at__gte=self.since)
                | Q(challenges__participants__joined_at__gte=self.since)
            )
            .distinct()
            .order_by("pk")
            .prefetch_related(
                "memberships",
                "challenges__participants",
                Prefetch("challenges__entries", to_attr="board"),
            )
        )
        spec = self.mapping["groups"]
        for chunk in _chunks(changed):
            maps = {
                m.new_id: m
                for m in IdMap.objects.filter(
                    source_table="groups", new_id__in=[g.pk for g in chunk]
                )
            }
            people = {g.created_by_id for g in chunk if g.created_by_id}
            for g in chunk:
                people |= {m.user_id for m in g.memberships.all()}
                people |= {e.user_id for c in g.challenges.all() for e in c.board}
            named = self._owner_value("groups", list(people))
            for g in chunk:
                mapped = maps.get(g.pk)
                legacy = dict(mapped.legacy) if mapped else {}
                values = self._group_values(g, legacy, named)
                owner = named.get(g.created_by_id) if g.created_by_id else None
                row = self._row(
                    "groups", values, old_id=mapped.old_id if mapped else str(g.pk), owner=owner
                )
                if spec.get("changed_at"):
                    row[spec["changed_at"]] = jsonable(g.updated_at)
                yield row
        tombstones = IdMap.objects.filter(
            source_table="groups", legacy__has_key=DELETED_HERE
        ).values_list("old_id", "legacy")
        for old_id, legacy in tombstones.iterator(chunk_size=CHUNK):
            if datetime.fromisoformat(legacy[DELETED_HERE]) >= self.since:
                yield {spec["id"]: old_id, "_deleted_at": legacy[DELETED_HERE]}

    _GROUP_ASIDE = (
        "members_extra",
        "members_not_imported",
        "settings_extra",
        "challenges_extra",
        "challenges_not_imported",
        IMPORTED,
        DELETED_HERE,
    )

    def _group_values(self, g: Group, legacy: dict[str, Any], named: dict) -> dict[str, Any]:
        """Ours win over what the import set aside; the rest of it comes back."""
        members_extra = legacy.get("members_extra", {})
        members = [
            {
                **members_extra.get(str(m.user_id), {}),
                "user_id": named.get(m.user_id, str(m.user_id)),
                "role": m.role,
                "status": m.status,
                "joined_at": jsonable(m.joined_at),
            }
            for m in g.memberships.all()
        ]
        members += legacy.get("members_not_imported", [])
        challenges_extra = legacy.get("challenges_extra", {})
        challenges = []
        for c in g.challenges.all():
            extra = dict(challenges_extra.get(str(c.pk), {}))
            goals = {**extra.pop("goals_extra", {}), **c.goals}
            absent = extra.pop("participants_not_imported", [])
            extra.pop("leaderboard", None)  # the board as it stands here replaces the old one
            challenges.append(
                {
                    **extra,
                    "id": extra.get("id", str(c.pk)),
                    "name": c.name,
                    "description": c.description,
                    "type": c.type,
                    "goals": goals,
                    "timezone": c.timezone,
                    "start_date": jsonable(c.start_date),
                    "end_date": jsonable(c.end_date),
                    "participants": [
                        named.get(x.user_id, str(x.user_id)) for x in c.participants.all()
                    ]
                    + absent,
                    "leaderboard": [
                        {
                            "user_id": named.get(e.user_id, str(e.user_id)),
                            "rank": e.rank,
                            "score": float(e.score),
                        }
                        for e in sorted(c.board, key=lambda e: e.rank)
                    ],
                }
            )
        challenges += [
            c["challenge"] for c in legacy.get("challenges_not_imported", []) if "challenge" in c
        ]
        return {
            "name": g.name,
            "description": g.description or None,
            "created_at": g.created_at,
            "settings": {**legacy.get("settings_extra", {}), **g.settings},
            "members": members,
            "challenges": challenges,
            "_legacy": {k: v for k, v in legacy.items() if k not in self._GROUP_ASIDE},
        }

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
            groups = OldIds.of("groups", [w.group_id for w in chunk if w.group_id])
            for w in chunk:
                mapped = maps.get(w.pk)
                legacy = dict(mapped.legacy) if mapped else {}
                photos = legacy.pop("progress_photos", [])
                legacy.pop("exercises_extra", None)
                unmapped_group = legacy.pop("group_id_unmapped", None)
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
                    "group_id": groups.get(w.group_id, w.group_id) or unmapped_group,
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
