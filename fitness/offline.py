"""The offline rules every synced resource shares (food logs, workouts, stored files, sync).

An offline device creates objects under ids it chose, resends whatever it is not sure
arrived, edits from a version it read, and learns of deletions from tombstones. Each rule
lives here once so that every resource answers the same way:

- client ids and idempotent create (`check_client_ids`): an id the caller already used
  returns the stored object; anyone else's id is 409 `id_conflict`; the caller's own
  deleted id is 410 `id_deleted` (a deletion is never undone by a late retry);
- ETag / If-Match (`etag_for`, `check_if_match`): 412 when the edit is based on an old version;
- the sharing check (`sharing_errors`): whom an owner may share an object with;
- change tracking (`changed_since`): rows whose server-side marker (`sync_version`, set by
  database triggers, see `sync.database`) is at or above a pull's cut-off;
- live change events (`data_changed`): `sync.changed` on `/ws/events/` after commit, so
  a user's other devices pull at once; `user_data_committed` tells the server's own caches
  at the same moment. A caller with something more urgent to do first (the chat, asking
  the model) can hold a write's events and send them afterwards (`held_change_events`).
"""

import hashlib
import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone
from rest_framework.request import Request

from fitness.api.errors import ApiError, IdConflict, PreconditionFailed
from fitness.error_codes import ErrorCode
from fitness.ws import send_user_event
from social.selectors import sharing_errors_per_item
from sync.models import SyncTombstone

logger = logging.getLogger(__name__)

# Sent once a transaction that changed users' synced data has committed, with `user_id`
# and `tables` (what changed for that user), e.g. to drop what a cache derived from it.
user_data_committed = Signal()


class IdDeleted(ApiError):
    code = ErrorCode.ID_DELETED
    message = "An object with this id was deleted; it is not recreated. Use a new id."


@dataclass(frozen=True)
class ClientIds:
    """What a create's client ids already name: the caller's live rows (`existing`), and
    the indexes of ids held by someone else (`foreign`) or by the caller's tombstones."""

    existing: set[uuid.UUID] = field(default_factory=set)
    foreign: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)

    def raise_refused(self, *, with_indexes: bool = False) -> None:
        """Raises the one answer for unusable ids; `with_indexes` names them (batches)."""
        for indexes, error in ((self.foreign, IdConflict), (self.deleted, IdDeleted)):
            if indexes:
                raise error(details={"indexes": indexes} if with_indexes else None)


def check_client_ids(
    model: type[models.Model],
    *,
    owner: Any,
    ids: Sequence[uuid.UUID | None],
    sync_table: str | None = None,
) -> ClientIds:
    """One query for every id of a create (None: the server picks the id).

    A model whose rows are hard-deleted (stored files) names its sync table: a deletion
    leaves no row, only the owner's sync tombstone (sync.database), which then is the
    record that the owner's id was deleted."""
    wanted = [given for given in ids if given is not None]
    if not wanted:
        return ClientIds()
    columns = ["id", "owner_id"]
    tombstoned = any(f.name == "deleted_at" for f in model._meta.fields)
    if tombstoned:
        columns.append("deleted_at")
    stored = {row["id"]: row for row in model._base_manager.filter(pk__in=wanted).values(*columns)}
    gone = _tombstoned_ids(owner, sync_table, [given for given in wanted if given not in stored])
    result = ClientIds()
    for index, given in enumerate(ids):
        row = stored.get(given)
        if given in gone:
            result.deleted.append(index)
        if row is None:
            continue
        if row["owner_id"] != owner.pk:
            result.foreign.append(index)
        elif tombstoned and row["deleted_at"] is not None:
            result.deleted.append(index)
        else:
            result.existing.add(given)
    return result


def _tombstoned_ids(owner: Any, sync_table: str | None, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if sync_table is None or not ids:
        return set()
    # The database printed the id into the tombstone: with dashes (PostgreSQL) or without
    # (SQLite).
    spellings = {spelling: given for given in ids for spelling in (str(given), given.hex)}
    found = SyncTombstone.objects.filter(
        user_id=owner.pk, table_name=sync_table, row_id__in=list(spellings)
    ).values_list("row_id", flat=True)
    return {spellings[row_id] for row_id in found}


def etag_for(instance: models.Model) -> str:
    stamp = f"{instance.pk}:{instance.updated_at.isoformat()}"
    return '"' + hashlib.sha256(stamp.encode()).hexdigest()[:32] + '"'


def check_if_match(request: Request, instance: models.Model) -> None:
    """Raises 412 when the request names a version other than the stored one."""
    header = request.headers.get("If-Match")
    if not header:
        return
    current = etag_for(instance)
    offered = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    if "*" not in offered and current not in offered:
        raise PreconditionFailed(details={"current_etag": current})


def sharing_errors(owner: Any, readers_per_item: list[list[uuid.UUID]]) -> dict[int, dict]:
    """Field errors (under `shared_with`) per item whose readers the owner may not share
    with. The rule itself (accepted connections only, never the owner) is social's."""
    refused = sharing_errors_per_item(owner, readers_per_item)
    return {index: {"shared_with": messages} for index, messages in refused.items()}


def changed_since(rows: models.QuerySet, cutoff: int | None) -> models.QuerySet:
    """Rows written at or after a pull's cut-off (all rows on a first pull)."""
    return rows if not cutoff else rows.filter(sync_version__gte=cutoff)


# --- live change events --------------------------------------------------------------------

_PENDING = "_sync_changed_pending"
_HELD = "_sync_changed_held"
# What a change of who may read a group's rows changes for its members: the group's own
# tables, and the workouts they read through it.
GROUP_TABLES = (
    "groups",
    "group_members",
    "challenges",
    "workouts",
    "exercises",
    "set_logs",
    "workout_progress",
)


def data_changed(*, tables: Iterable[str], user_ids: Iterable[Any], using: str = "default") -> None:
    """Tells these users' other devices to pull: one `sync.changed` event per user after
    the transaction commits, listing every table that changed for them in it (a batch of
    500 logs is one event, not 500). Nothing is sent if the transaction rolls back.

    Single-row writes reach here through signals (sync.receivers); bulk writes
    (`bulk_create`, `update()`) call it themselves, since they send no signals.
    """
    tables, user_ids = set(tables), {user_id for user_id in user_ids if user_id is not None}
    if not tables or not user_ids:
        return
    connection = transaction.get_connection(using)
    held = getattr(connection, _HELD, None)
    if held is not None:
        held.record(tables, user_ids)
        return
    pending = getattr(connection, _PENDING, None)
    # The state belongs to the callback that will send it; when that callback is gone (it
    # ran, or its savepoint rolled back with what was recorded in it), start afresh.
    fresh = pending is None or not any(
        callback == pending.send for _, callback, _ in connection.run_on_commit
    )
    if fresh:
        pending = _Pending()
        setattr(connection, _PENDING, pending)
    pending.record(tables, user_ids)
    if fresh:
        # Outside a transaction this sends at once.
        transaction.on_commit(pending.send, using=using, robust=True)


class _Pending:
    def __init__(self) -> None:
        self.tables: dict[Any, set[str]] = {}

    def record(self, tables: set[str], user_ids: set[Any]) -> None:
        for user_id in user_ids:
            self.tables.setdefault(user_id, set()).update(tables)

    def send(self) -> None:
        moment = int(timezone.now().timestamp() * 1000)
        sent, self.tables = self.tables, {}
        for user_id, tables in sent.items():
            for receiver, failure in user_data_committed.send_robust(
                sender=None, user_id=user_id, tables=frozenset(tables)
            ):
                if failure is not None:
                    logger.warning("%s failed on committed changes: %r", receiver, failure)
            send_user_event(
                user_id, "sync.changed", {"tables": sorted(tables), "timestamp": moment}
            )


class HeldChanges:
    """The change events of a committed write, kept for `send()` at the caller's moment."""

    def __init__(self) -> None:
        self._pending = _Pending()
        self._at_commit = False

    def send(self) -> None:
        """Sends them (once); a no-op when they went to an outer transaction's commit."""
        if not self._at_commit:
            self._pending.send()


@contextmanager
def held_change_events(using: str = "default") -> Iterator[HeldChanges]:
    """Holds the change events of the writes in the block, which must contain their whole
    transaction: the caller sends them with `.send()` once it has done what it could not
    make wait (they cost a channel-layer round trip per user). Nothing is held when the
    block fails, and inside an outer transaction they still wait for its commit."""
    connection = transaction.get_connection(using)
    held = HeldChanges()
    setattr(connection, _HELD, held._pending)
    try:
        yield held
    except BaseException:
        held._pending.tables.clear()
        raise
    finally:
        delattr(connection, _HELD)
    if connection.in_atomic_block and held._pending.tables:
        held._at_commit = True
        transaction.on_commit(held._pending.send, using=using, robust=True)
