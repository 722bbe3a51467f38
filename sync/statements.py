"""A table's first chunk of a pull, and which tombstoned ids the user still reads, from SQL
the ORM compiles once per process.

Building a table's queryset and compiling it cost most of a small incremental pull's CPU
(the workouts' visibility rule alone is compiled into four tables), and only the user and
the cut-off change between pulls. So each table's first-chunk queryset is compiled for
two made-up users and cut-offs (`fitness.statements`); where the two compilations differ
is where the user and the cut-off go. A statement that differs anywhere else, or a table
whose rows depend on the clock (`Table.reads_clock`), is built and compiled for every
pull, as before.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Field, Model, QuerySet, prefetch_related_objects

from accounts.models import User
from fitness import statements
from sync.tables import Table

# Made-up users and cut-offs: no real pk or marker equals them (markers are positive).
_PROBES = (
    {"user": uuid.UUID("0e5d1c3a-7b7e-4f43-9a57-51c3f6b1d001"), "since": -7_300_000_001},
    {"user": uuid.UUID("0e5d1c3a-7b7e-4f43-9a57-51c3f6b1d002"), "since": -7_300_000_002},
)


@dataclass(frozen=True)
class _Compiled:
    model: type[Model]
    statement: statements.Compiled
    related: tuple[str, ...]

    @property
    def sql(self) -> str:
        return self.statement.sql

    def bind(self, user: User, since: int | None) -> list:
        return self.statement.bind({"user": user.pk, "since": since})

    def rows(self, user: User, since: int | None) -> list[Model]:
        rows = list(self.model._base_manager.raw(self.sql, self.bind(user, since)))
        if self.related:
            prefetch_related_objects(rows, *self.related)
        return rows


def _compile(
    build: Callable[[User, int | None], QuerySet], alias: str, incremental: bool
) -> _Compiled | None:
    related: list[tuple[str, ...]] = []

    def query_of(values: dict[str, Any]) -> QuerySet:
        queryset = build(User(pk=values["user"]), values["since"] if incremental else None)
        # A raw query maps columns to fields by name, so a joined table's columns would
        # land on the row: what the queryset joins is read by one query per chunk instead.
        related.append(tuple(queryset.query.select_related or ()))
        unjoined = queryset.all()
        unjoined.query.select_related = False
        return unjoined

    probes = _PROBES if incremental else tuple({"user": probe["user"]} for probe in _PROBES)
    compiled = statements.compile_once(query_of, probes, alias=alias)
    if compiled is None:
        return None
    statement, compiler = compiled
    return _Compiled(compiler.query.model, statement, related[0])


_compiled: dict[tuple, _Compiled | None] = {}


def _statement(
    key: tuple, table: Table, build: Callable, alias: str, incremental: bool
) -> _Compiled | None:
    key = (*key, table.name, connections[alias].vendor, alias, incremental)
    if key not in _compiled:
        reusable = not table.reads_clock
        _compiled[key] = _compile(build, alias, incremental) if reusable else None
    return _compiled[key]


def first_rows(
    table: Table, user: User, since: int | None, limit: int, alias: str = "default"
) -> list[Model]:
    """The first `limit` rows of `table.rows(user, since)` in key order, as the table's
    compiled statement reads them (or through the ORM when it cannot be reused)."""

    def build(user: User, since: int | None) -> QuerySet:
        return table.rows(user, since).order_by("pk")[:limit]

    compiled = _statement(("rows", limit), table, build, alias, bool(since))
    if compiled is None:
        return list(build(user, since))
    return compiled.rows(user, since)


def readable_ids(table: Table, user: User, ids: list[str], alias: str = "default") -> set[str]:
    """Those of `ids` (as text) that are among the rows the user reads. On PostgreSQL the
    ids go as one array into the compiled statement; elsewhere through the ORM."""

    def build(user: User, since: int | None) -> QuerySet:
        return table.rows(user, None).values_list("pk", flat=True)

    connection = connections[alias]
    compiled = None
    if connection.vendor == "postgresql":
        compiled = _statement(("readable",), table, build, alias, False)
    visible = build(user, None) if compiled is None else None
    key = (compiled.model if visible is None else visible.model)._meta.pk
    # A tombstone may name an id the table's key cannot hold (a set log the app created
    # under its own UUID, which the server stored under a number): nobody reads it.
    keys = [parsed for raw in ids if (parsed := _key(key, raw)) is not None]
    if not keys:
        return set()
    if visible is not None:
        return {str(row_id) for row_id in visible.filter(pk__in=keys)}
    # The compiled statement selects the key under the name it was asked for, `pk`.
    sql = f"SELECT v.pk FROM ({compiled.sql}) AS v WHERE v.pk = ANY(%s)"  # noqa: S608 -- the ORM's own SQL
    with connection.cursor() as cursor:
        cursor.execute(sql, [*compiled.bind(user, None), keys])
        return {str(row[0]) for row in cursor.fetchall()}


def _key(key: Field, raw: str) -> Any:
    try:
        return key.to_python(raw)
    except ValidationError:
        return None
