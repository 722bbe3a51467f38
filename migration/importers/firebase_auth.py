"""Users from a Firebase Auth export (`firebase auth:export --format=json`).

Each Firebase user becomes one `accounts.User`, keyed on `firebase_uid`, with the id
uuid5(uid) that the Firebase token bridge also gives it; so a re-run, or a user who signed in
with a Firebase token before being imported, lands on the same row. The file is streamed
(ijson) and written in batches: memory holds one batch, not the export.
"""

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any
from uuid import UUID

import ijson
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils import timezone

from accounts import tokens
from accounts.firebase import firebase_user_id
from accounts.hashers import ALGORITHM as FIREBASE_ALGORITHM
from accounts.hashers import FirebaseHashConfig, encode_imported
from accounts.models import MigrationSource, User, normalize_email
from migration.models import SUPABASE_LEGACY, IdMap
from migration.normal import digest, instant
from migration.runs import RunRecorder

SOURCE = "firebase_auth"
# Also the id map's table: Supabase's users have ids of their own.
ENTITY = "firebase_users"
BATCH_SIZE = 500

# Export keys with a column of their own; every other key goes to `legacy` whole.
_COLUMN_KEYS = frozenset(
    {
        "localId",
        "email",
        "emailVerified",
        "passwordHash",
        "salt",
        "displayName",
        "createdAt",
        "lastSignedInAt",
        "disabled",
    }
)
# What the importer sets and what the report reads back.
_CONTENT_FIELDS = (
    "email",
    "name",
    "email_verified",
    "is_active",
    "date_joined",
    "last_login",
    "legacy",
)
_NAME_MAX = User._meta.get_field("name").max_length
_validate_email = EmailValidator()


class Rejected(Exception):
    """A user that cannot be imported as it is; the reason goes to the run's rejects."""


@dataclass
class _Prepared:
    uid: str
    values: dict[str, Any]
    # None: no usable hash in the export (social sign-in only, or not exported).
    password: str | None
    content_hash: str = field(default="")


def read_hash_config(text: str) -> FirebaseHashConfig:
    """The console's "Password Hash Parameters", as JSON or as the console prints them
    (`hash_config { algorithm: SCRYPT, base64_signer_key: ..., rounds: 8, ... }`)."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        config = {}
        for line in text.replace("{", "\n").replace("}", "\n").replace(",", "\n").splitlines():
            key, sep, value = line.partition(":")
            if sep:
                config[key.strip()] = value.strip().strip('"')
    if isinstance(config, dict) and "hash_config" in config:
        config = config["hash_config"]
    if not isinstance(config, dict):
        raise ValueError("the hash config is not an object")
    return FirebaseHashConfig.from_console(config)


def iter_users(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    return ijson.items(stream, "users.item", use_float=True)


def _moment(value: Any) -> datetime | None:
    """Firebase writes milliseconds since the epoch, as a string."""
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise Rejected("unreadable createdAt or lastSignedInAt") from None


def _legacy(record: dict[str, Any]) -> dict[str, Any]:
    legacy = {key: value for key, value in record.items() if key not in _COLUMN_KEYS}
    if isinstance(legacy.get("customAttributes"), str):
        # Firebase exports the custom claims as a JSON string; kept as the object they are,
        # or as the string when it does not parse.
        with contextlib.suppress(json.JSONDecodeError):
            legacy["customAttributes"] = json.loads(legacy["customAttributes"])
    name = record.get("displayName") or ""
    if len(name) > _NAME_MAX:
        legacy["displayName"] = name
    return legacy


def prepare(record: dict[str, Any], config: FirebaseHashConfig) -> _Prepared:
    uid = record.get("localId")
    if not isinstance(uid, str) or not uid.strip() or len(uid) > 128:
        raise Rejected("missing or invalid localId")
    raw_email = record.get("email")
    if not isinstance(raw_email, str) or not raw_email.strip():
        raise Rejected("no e-mail address (phone or anonymous account)")
    email = normalize_email(raw_email)
    try:
        _validate_email(email)
    except ValidationError:
        raise Rejected("invalid e-mail address") from None
    legacy = _legacy(record)
    password = None
    if record.get("passwordHash") and record.get("salt"):
        try:
            password = encode_imported(
                password_hash=record["passwordHash"], salt=record["salt"], config=config
            )
        except (ValueError, TypeError):
            # The account is kept; its owner sets a password through a reset.
            legacy["password_hash_unreadable"] = True
    name = str(record.get("displayName") or "")[:_NAME_MAX]
    values = {
        "email": email,
        "name": name,
        "display_name": name,
        "email_verified": record.get("emailVerified") is True,
        "is_active": record.get("disabled") is not True,
        "date_joined": _moment(record.get("createdAt")) or timezone.now(),
        "last_login": _moment(record.get("lastSignedInAt")),
        "legacy": legacy,
    }
    prepared = _Prepared(uid=uid, values=values, password=password)
    prepared.content_hash = digest(_normal(values))
    return prepared


def _normal(values: dict[str, Any]) -> dict[str, Any]:
    normal = {name: values[name] for name in _CONTENT_FIELDS}
    normal["date_joined"] = instant(normal["date_joined"])
    normal["last_login"] = instant(normal["last_login"])
    return normal


def _own(legacy: dict[str, Any]) -> dict[str, Any]:
    """The part of a user's legacy data this import wrote (not the Supabase import's)."""
    return {k: v for k, v in legacy.items() if k != SUPABASE_LEGACY}


def read_back(ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """The report's content check: imported users' values, normalised as at import."""
    rows = User.objects.filter(pk__in=ids).values("id", *_CONTENT_FIELDS)
    return {row.pop("id"): _normal({**row, "legacy": _own(row["legacy"])}) for row in rows}


def _password_is_ours_to_set(current: str) -> bool:
    """A password set or re-hashed here is never overwritten by a re-run; only an
    imported hash, or none at all, is."""
    return not current or current.startswith(("!", FIREBASE_ALGORITHM + "$"))


def _changes(user: User, prepared: _Prepared) -> list[str]:
    changed = [
        name
        for name, value in prepared.values.items()
        if (_own(user.legacy) if name == "legacy" else getattr(user, name)) != value
    ]
    if (
        prepared.password is not None
        and user.password != prepared.password
        and _password_is_ours_to_set(user.password)
    ):
        changed.append("password")
    return changed


class _Batch:
    def __init__(self, recorder: RunRecorder) -> None:
        self.recorder = recorder
        self.items: list[_Prepared] = []

    def add(self, prepared: _Prepared) -> None:
        self.items.append(prepared)

    def reject(self, uid: Any, reason: str) -> None:
        self.recorder.reject(ENTITY, old_id=uid, reason=reason)

    @transaction.atomic
    def write(self) -> None:
        items, self.items = self.items, []
        if not items:
            return
        existing = {
            u.firebase_uid: u
            for u in User.objects.select_for_update().filter(
                firebase_uid__in=[p.uid for p in items]
            )
        }
        owners = dict(
            User.objects.filter(email__in=[p.values["email"] for p in items]).values_list(
                "email", "firebase_uid"
            )
        )
        created: list[User] = []
        updated: dict[str, list[User]] = {}
        mapped: list[_Prepared] = []
        for prepared in items:
            email = prepared.values["email"]
            owner = owners.get(email, prepared.uid)
            if owner != prepared.uid:
                # Two Firebase users whose addresses differ only in case, or an account
                # registered here: which one owns the address is not guessed.
                self.reject(prepared.uid, "e-mail already used by another account")
                continue
            owners[email] = prepared.uid
            user = existing.get(prepared.uid)
            if user is None:
                created.append(self._new_user(prepared))
                self.recorder.record(ENTITY, "imported")
            else:
                changed = _changes(user, prepared)
                if not changed:
                    self.recorder.record(ENTITY, "unchanged")
                else:
                    for name in changed:
                        if name == "legacy":
                            kept = {k: v for k, v in user.legacy.items() if k == SUPABASE_LEGACY}
                            user.legacy = {**prepared.values["legacy"], **kept}
                            continue
                        setattr(
                            user,
                            name,
                            prepared.password if name == "password" else prepared.values[name],
                        )
                    updated.setdefault(",".join(sorted(changed)), []).append(user)
                    if "is_active" in changed:
                        tokens.invalidate_auth_state(user.pk)
                    self.recorder.record(ENTITY, "updated")
            mapped.append(prepared)
        User.objects.bulk_create(created)
        now = timezone.now()
        for names, users in updated.items():
            for user in users:
                user.updated_at = now
            User.objects.bulk_update(users, [*names.split(","), "updated_at"])
        self._map(mapped)

    @staticmethod
    def _new_user(prepared: _Prepared) -> User:
        user = User(
            id=firebase_user_id(prepared.uid),
            firebase_uid=prepared.uid,
            migration_source=MigrationSource.FIREBASE_IMPORT,
            password=prepared.password or make_password(None),
            **prepared.values,
        )
        return user

    def _map(self, items: Iterable[_Prepared]) -> None:
        """The id map: old uid → new id, with the content hash the report checks. Rows that
        already say the same are left alone, so an unchanged re-run writes nothing."""
        items = list(items)
        current = dict(
            IdMap.objects.filter(
                source_table=ENTITY, old_id__in=[p.uid for p in items]
            ).values_list("old_id", "content_hash")
        )
        owners = dict(
            User.objects.filter(firebase_uid__in=[p.uid for p in items]).values_list(
                "firebase_uid", "id"
            )
        )
        stale = [p for p in items if current.get(p.uid) != p.content_hash and p.uid in owners]
        IdMap.objects.bulk_create(
            [
                IdMap(
                    source_table=ENTITY,
                    old_id=p.uid,
                    new_id=owners[p.uid],
                    owner_id=owners[p.uid],
                    content_hash=p.content_hash,
                    run=self.recorder.run,
                )
                for p in stale
            ],
            update_conflicts=True,
            unique_fields=["source_table", "old_id"],
            update_fields=["new_id", "owner", "content_hash", "run", "updated_at"],
        )


class _DryRunRollback(Exception):
    pass


def import_users(
    stream: IO[bytes],
    *,
    config: FirebaseHashConfig,
    recorder: RunRecorder,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str, int], None] | None = None,
) -> None:
    """Imports every user of the export, counting each in `recorder`. A dry run does all
    the same work in one transaction and rolls it back, so its counts are exact."""
    if recorder.dry_run:
        try:
            with transaction.atomic():
                _import(stream, config, recorder, batch_size, progress)
                raise _DryRunRollback()
        except _DryRunRollback:
            return
    _import(stream, config, recorder, batch_size, progress)


def _import(
    stream: IO[bytes],
    config: FirebaseHashConfig,
    recorder: RunRecorder,
    batch_size: int,
    progress: Callable[[str, int], None] | None,
) -> None:
    batch = _Batch(recorder)
    read = 0
    # Every uid read so far (a few dozen bytes each, so even a million users stay small): a
    # uid Firebase lists twice is two accounts' worth of facts for one, and which is right
    # is not guessed. The first is kept, the repeat is rejected rather than merged into it.
    uids: set[str] = set()
    for record in iter_users(stream):
        read += 1
        recorder.seen(ENTITY)
        try:
            if not isinstance(record, dict):
                raise Rejected("not a user object")
            uid = record.get("localId")
            if isinstance(uid, str):
                if uid in uids:
                    raise Rejected("localId repeated in the export")
                uids.add(uid)
            batch.add(prepare(record, config))
        except Rejected as exc:
            uid = record.get("localId") if isinstance(record, dict) else None
            batch.reject(uid, str(exc))
        if len(batch.items) >= batch_size:
            batch.write()
            if progress:
                progress(ENTITY, read)
    batch.write()
    if progress:
        progress(ENTITY, read)
