"""A table's first chunk of a pull, from SQL the ORM compiles once per process.

Building a table's queryset and compiling it cost most of a small incremental pull's CPU
(the workouts' visibility rule alone is compiled into four tables), and only the user and
the cut-off change between pulls. So each table's first-chunk queryset is compiled for
two made-up users and cut-offs; where the two compilations differ is where the user and
the cut-off go. A statement that differs anywhere else, or a table whose rows depend on
the clock (`Table.reads_clock`), is built and compiled for every pull, as before.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model, prefetch_related_objects

from accounts.models import User
from sync.tables import Table

# Made-up users and cut-offs: no real pk or marker equals them (markers are positive).
_PROBES = (
    (uuid.UUID("0e5d1c3a-7b7e-4f43-9a57-51c3f6b1d001"), -7_300_000_001),
    (uuid.UUID("0e5d1c3a-7b7e-4f43-9a57-51c3f6b1d002"), -7_300_000_002),
)


def _user_slot(value: Any, pk: uuid.UUID) -> Callable[[uuid.UUID], Any] | None:
    """How to write another user's id where a compiled statement holds `pk` (as a UUID,
    or as text on SQLite); None if `value` is not `pk`."""
    spellings = ((pk, lambda other: other), (pk.hex, lambda other: other.hex), (str(pk), str))
    for spelling, spell in spellings:
        if type(value) is type(spelling) and value == spelling:
            return spell
    return None


@dataclass(frozen=True)
class _Compiled:
    model: type[Model]
    sql: str
    params: tuple
    users: tuple[tuple[int, Callable[[uuid.UUID], Any]], ...]
    cutoffs: tuple[int, ...]
    related: tuple[str, ...]

    def rows(self, user: User, since: int | None) -> list[Model]:
        params = list(self.params)
        for position, spell in self.users:
            params[position] = spell(user.pk)
        for position in self.cutoffs:
            params[position] = since
        rows = list(self.model._base_manager.raw(self.sql, params))
        if self.related:
            prefetch_related_objects(rows, *self.related)
        return rows


def _compile(table: Table, limit: int, alias: str, incremental: bool) -> _Compiled | None:
    compiled = []
    for pk, since in _PROBES:
        query = table.rows(User(pk=pk), since if incremental else None).order_by("pk")
        query = query[:limit].query.clone()
        # A raw query maps columns to fields by name, so a joined table's columns would
        # land on the row: what the queryset joins is read by one query per chunk instead.
        related = tuple(query.select_related or ())
        query.select_related = False
        sql, params = query.get_compiler(using=alias).as_sql()
        compiled.append((query.model, sql, tuple(params), related))
    (model, sql, params, related), (_, other_sql, other_params, _) = compiled
    if sql != other_sql or len(params) != len(other_params):
        return None
    users, cutoffs = [], []
    for position, (first, second) in enumerate(zip(params, other_params, strict=True)):
        spell = _user_slot(first, _PROBES[0][0])
        if spell is not None and _user_slot(second, _PROBES[1][0]) is not None:
            users.append((position, spell))
        elif incremental and (first, second) == (_PROBES[0][1], _PROBES[1][1]):
            cutoffs.append(position)
        elif first != second or type(first) is not type(second):
            return None
    return _Compiled(model, sql, params, tuple(users), tuple(cutoffs), related)


_compiled: dict[tuple, _Compiled | None] = {}


def first_rows(
    table: Table, user: User, since: int | None, limit: int, alias: str = "default"
) -> list[Model]:
    """The first `limit` rows of `table.rows(user, since)` in key order, as the table's
    compiled statement reads them (or through the ORM when it cannot be reused)."""
    incremental = bool(since)
    key = (table.name, connections[alias].vendor, alias, incremental, limit)
    if key not in _compiled:
        reusable = not table.reads_clock
        _compiled[key] = _compile(table, limit, alias, incremental) if reusable else None
    compiled = _compiled[key]
    if compiled is None:
        return list(table.rows(user, since).order_by("pk")[:limit])
    return compiled.rows(user, since)
