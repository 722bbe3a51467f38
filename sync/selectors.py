"""The pull side of sync: what changed for a user since their last pull, as a stream."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connection

from accounts.models import User
from sync import statements
from sync.database import pull_cutoff
from sync.tables import TABLES, Row, Table, chunked, compact_json, normalized_id

# Rows rendered per query: bounds the memory of a first pull of a big account.
CHUNK_SIZE = 1000


@dataclass(frozen=True)
class Migration:
    """What a client gained in a schema migration: these tables and columns come in full."""

    new_tables: frozenset[str] = frozenset()
    changed_tables: frozenset[str] = frozenset()


@dataclass
class Pull:
    """A pull whose cut-off is fixed (so `timestamp` is known before the body streams).

    `replace`: the client's cut-off is at or below the pruned tombstones' horizon, so
    deletions it has not seen may be gone; it gets every row it can read, as updates,
    under WatermelonDB's `experimentalStrategy: "replacement"` (0.28 destroys each local
    record that is neither in the answer nor created locally and not yet pushed).
    """

    user: User
    since: int | None
    timestamp: int
    migration: Migration = field(default_factory=Migration)
    replace: bool = False
    _gone_by_table: dict[str, dict[str, None]] | None = field(default=None, init=False)

    def chunks(self) -> Iterator[bytes]:
        """The response body `{"changes": {...}, "timestamp": n}`, a few rows at a time."""
        yield b'{"changes":{'
        for index, table in enumerate(TABLES.values()):
            prefix = "," if index else ""
            yield f'{prefix}"{table.name}":'.encode()
            yield from self._table(table)
        strategy = ',"experimentalStrategy":"replacement"' if self.replace else ""
        yield f'}},"timestamp":{self.timestamp}{strategy}}}'.encode()

    def _table(self, table: Table) -> Iterator[bytes]:
        full = self.replace or table.name in (
            self.migration.new_tables | self.migration.changed_tables
        )
        since = None if full else self.since
        # A first pull (or a table new to the client) creates; anything later updates.
        fresh = not self.since or table.name in self.migration.new_tables
        yield b'{"created":[' if fresh else b'{"created":[],"updated":['
        alive: set[str] = set()
        deleted: list[str] = []
        first = True
        for chunk in _chunks(table, self.user, since):
            live = [row for row in chunk if not table.is_deleted(row)]
            deleted += [str(row.pk) for row in chunk if table.is_deleted(row)]
            records = table.render(live, self.user) if live else []
            if records:
                text = ",".join(compact_json(record) for record in records)
                yield (text if first else "," + text).encode()
                first = False
            if since:
                # Only an incremental pull has tombstones to weed out.
                alive.update(record["id"] for record in records)
        if since:
            deleted += self._tombstones(table, since, alive | set(deleted))
        yield b"]," if not fresh else b'],"updated":[],'
        yield b'"deleted":' + json.dumps(deleted).encode() + b"}"

    def _tombstones(self, table: Table, since: int, known: set[str]) -> list[str]:
        """Ids gone for this user since the cut-off; never one that is also sent alive
        (a row deleted and written again, as exercises are when their workout is edited),
        nor one the user still reads another way (a workout no longer shared with them
        but still visible through a group: the triggers cannot tell, see sync.database)."""
        gone = [row_id for row_id in self._gone(since).get(table.name, ()) if row_id not in known]
        if not gone:
            return []
        readable = set()
        for chunk in chunked(gone, CHUNK_SIZE):
            readable |= statements.readable_ids(table, self.user, chunk)
        return [row_id for row_id in gone if row_id not in readable]

    def _gone(self, since: int) -> dict[str, dict[str, None]]:
        """The user's tombstones since the cut-off, by table, each id once: one query for
        every table (each incremental table reads from the same cut-off)."""
        if self._gone_by_table is None:
            self._gone_by_table = {}
            for name, raw in statements.tombstones(self.user, since):
                self._gone_by_table.setdefault(name, {})[normalized_id(name, raw)] = None
        return self._gone_by_table


def _chunks(table: Table, user: User, since: int | None) -> Iterator[list[Row]]:
    """Rows in chunks of CHUNK_SIZE, in key order. The first chunk is a plain query (one
    round trip, what nearly every incremental pull needs, compiled once per process); only
    a table that fills it goes on through a server-side cursor, which streams the rest
    without holding it."""
    chunk = statements.first_rows(table, user, since, CHUNK_SIZE)
    if chunk:
        yield chunk
    if len(chunk) == CHUNK_SIZE:
        yield from statements.rows_after(table, user, since, chunk[-1].pk, CHUNK_SIZE)


def pull_changes(*, user: User, last_pulled_at: int | None, migration: Migration) -> Pull:
    """Fixes the cut-off now, before any row is read (see sync.database)."""
    timestamp = pull_cutoff(connection)
    horizon = statements.horizon()
    return Pull(
        user=user,
        since=last_pulled_at,
        timestamp=timestamp,
        migration=migration,
        replace=bool(last_pulled_at) and last_pulled_at <= (horizon or 0),
    )
