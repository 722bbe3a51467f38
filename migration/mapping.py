"""Which Supabase table and columns feed which model and field.

The default is the plan's own schema, so an app that followed it needs no file. A mapping
file (YAML or JSON) overrides entities by name; each entity says:

    table:      the source table ("schema.table")
    id:         its primary-key column
    owner:      {column, by}: how a row names its owner; `by` is `supabase_id` (auth.users
                id), `firebase_uid` or `email`
    changed_at: a column that moves on every change, for delta passes (optional: without it
                every pass reads the whole table and skips unchanged rows by their hash)
    fields:     {target field: source column}; every other column is kept as legacy data
"""

import copy
import json
from pathlib import Path
from typing import Any

import yaml

# Groups come before workouts: a workout's `group_id` maps only to a group already here.
ENTITY_ORDER = ("auth_users", "profiles", "food_logs", "groups", "workouts", "ai_conversations")
OWNER_KINDS = ("supabase_id", "firebase_uid", "email")

DEFAULT_MAPPING: dict[str, dict[str, Any]] = {
    "auth_users": {
        "table": "auth.users",
        "id": "id",
        "changed_at": "updated_at",
        "fields": {
            "email": "email",
            "password": "encrypted_password",
            "email_confirmed_at": "email_confirmed_at",
            "created_at": "created_at",
            "banned_until": "banned_until",
            # A key of raw_user_meta_data naming the user's Firebase uid, when the app
            # carried it over from Firebase: users imported from Firebase are found by it.
            "firebase_uid": "raw_user_meta_data.firebase_uid",
        },
    },
    "profiles": {
        "table": "public.users",
        "id": "id",
        "owner": {"column": "id", "by": "supabase_id"},
        "changed_at": "updated_at",
        "fields": {
            "email": "email",
            "name": "name",
            "display_name": "display_name",
            "birthday": "birthday",
            "gender": "gender",
            "height": "height",
            "weight": "weight",
            "target_weight": "target_weight",
            "fitness_goal": "fitness_goal",
            "preferences": "preferences",
        },
    },
    "food_logs": {
        "table": "public.food_logs",
        "id": "id",
        "owner": {"column": "user_id", "by": "supabase_id"},
        "changed_at": None,
        "fields": {
            "name": "name",
            "calories": "calories",
            "protein": "protein",
            "carbs": "carbs",
            "fat": "fat",
            "timestamp": "timestamp",
            "image_url": "image_url",
            "ai_analysis": "ai_analysis",
            "metadata": "metadata",
            "meal_type": "meal_type",
            "tags": "tags",
            "shared_with": "shared_with",
        },
    },
    "workouts": {
        "table": "public.workouts",
        "id": "id",
        "owner": {"column": "user_id", "by": "supabase_id"},
        "changed_at": None,
        "fields": {
            "name": "name",
            "type": "type",
            "duration": "duration",
            "calories_burned": "calories_burned",
            "completed": "completed",
            "created_at": "created_at",
            "exercises": "exercises",
            "progress_photos": "progress_photos",
            "ai_form_check": "ai_form_check",
            "shared_with": "shared_with",
            "group_id": "group_id",
        },
    },
    "groups": {
        "table": "public.groups",
        "id": "id",
        "owner": {"column": "created_by", "by": "supabase_id"},
        "changed_at": "updated_at",
        # `members` ({user_id, role, joined_at, status}) and `challenges` ({id, name,
        # description, start_date, end_date, type, goals, participants, leaderboard}) are the
        # plan's JSONB[] arrays; their user ids name users the way `owner.by` says.
        "fields": {
            "name": "name",
            "description": "description",
            "created_at": "created_at",
            "settings": "settings",
            "members": "members",
            "challenges": "challenges",
        },
    },
    "ai_conversations": {
        "table": "public.ai_conversations",
        "id": "id",
        "owner": {"column": "user_id", "by": "supabase_id"},
        "changed_at": "updated_at",
        "fields": {
            "session_id": "session_id",
            "context": "context",
            "messages": "messages",
            "created_at": "created_at",
            "metadata": "metadata",
        },
    },
}


class MappingError(ValueError):
    """The mapping file cannot drive an import (the command exits non-zero)."""


def load_mapping(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The default mapping, with the file's entities (when given) laid over it."""
    mapping = copy.deepcopy(DEFAULT_MAPPING)
    if path is None:
        return mapping
    text = Path(path).read_text(encoding="utf-8")
    try:
        loaded = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(loaded, dict):
        raise MappingError(f"{path}: expected a mapping of entity names.")
    for name, spec in loaded.items():
        if name not in DEFAULT_MAPPING:
            raise MappingError(f"Unknown entity {name!r}; one of {', '.join(ENTITY_ORDER)}.")
        if spec is None:  # `groups: null` leaves the entity out
            mapping.pop(name)
            continue
        if not isinstance(spec, dict):
            raise MappingError(f"{name}: expected a mapping.")
        mapping[name] = {**mapping[name], **spec}
    for name, spec in mapping.items():
        _check(name, spec)
    return mapping


def _check(name: str, spec: dict[str, Any]) -> None:
    table = spec.get("table")
    if not isinstance(table, str) or not table:
        raise MappingError(f"{name}: `table` is required.")
    if not isinstance(spec.get("id"), str):
        raise MappingError(f"{name}: `id` names the primary-key column.")
    if not isinstance(spec.get("fields", {}), dict):
        raise MappingError(f"{name}: `fields` maps target fields to source columns.")
    owner = spec.get("owner")
    if name != "auth_users":
        if not isinstance(owner, dict) or not owner.get("column"):
            raise MappingError(f"{name}: `owner.column` is required.")
        if owner.get("by") not in OWNER_KINDS:
            raise MappingError(f"{name}: `owner.by` is one of {', '.join(OWNER_KINDS)}.")


def source_value(row: dict[str, Any], column: str | None) -> Any:
    """A column's value; `a.b` reads key `b` of JSON column `a`."""
    if not column:
        return None
    if column in row:
        return row[column]
    head, _, key = column.partition(".")
    container = row.get(head)
    return container.get(key) if key and isinstance(container, dict) else None


def used_columns(spec: dict[str, Any]) -> set[str]:
    # A key read out of a JSON column leaves the column itself in the legacy data: its
    # other keys have no field to go to.
    columns = {spec["id"], *(c for c in spec.get("fields", {}).values() if c and "." not in c)}
    if spec.get("owner"):
        columns.add(spec["owner"]["column"])
    return columns
