"""The rows a pull renders, as named tuples, mostly from SQL the ORM compiles once per
process.

Building a table's queryset and compiling it cost most of a small incremental pull's CPU
(the workouts' visibility rule alone is compiled into four tables), and only the user and
the cut-off change between pulls. So each table's first-chunk queryset is compiled for
two made-up users and cut-offs (`fitness.statements`); where the two compilations differ
is where the user and the cut-off go. A statement that differs anywhere else is built and
compiled for every pull, as before.

Rows are read as the table's `fields` (sync.tables), never as model instances, whose
construction cost more than the database's answer. On PostgreSQL each of the table's
`lists` is an array in the same statement and each time comes as microseconds; the
embedded SQLite default has no arrays, so there each list is one more query per chunk, as
a prefetch would be. The user's tombstones, the check of which tombstoned ids they still
read and the tombstones' horizon are compiled once too.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import DateTimeField, Field, Model, OuterRef, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.utils import create_namedtuple_class

from accounts.models import User
from fitness import statements
from fitness.rows import EpochMicroseconds
from sync.models import SyncHorizon, SyncTombstone
from sync.tables import Row, Table

# Made-up values: no real pk, marker or id list equals them (markers are positive).
_PROBES = (
    {
        "user": uuid.UUID("0e5d1c3a-7b7e-4f43-9a57-51c3f6b1d001"),
        "since": -7_300_000_001,
        "ids": [uuid.UUID("0e5d1c3a-7b7e-4f43-9a57-51c3f6b1d003")],
    },
    {
        "user": uuid.UUID("0e5d1c3a-7b7e-4f43-9a57-51c3f6b1d002"),
        "since": -7_300_000_002,
        "ids": [uuid.UUID("0e5d1c3a-7b7e-4f43-9a57-51c3f6b1d004")],
    },
)


def _postgresql(alias: str) -> bool:
    return connections[alias].vendor == "postgresql"


# The column a time field is read under, as microseconds (`render` reads it by the field's
# name, and sync.tables.epoch_ms turns it into the milliseconds a datetime would give).
_MICROS = "_epoch_us"


def shaped(table: Table, rows: QuerySet) -> QuerySet:
    """`rows` (the table's) as the tuples `render` reads (named by `_named`): its fields;
    on PostgreSQL each time as microseconds and each of its lists an array, in the
    children's order."""
    if not _postgresql(rows.db):
        return rows.values_list(*table.fields)
    fields = {field.attname: field for field in rows.model._meta.concrete_fields}
    times = {
        f"{name}{_MICROS}": EpochMicroseconds(name)
        for name in table.fields
        if isinstance(fields.get(name), DateTimeField)
    }
    columns = [f"{name}{_MICROS}" if f"{name}{_MICROS}" in times else name for name in table.fields]
    arrays = {
        name: ArraySubquery(children.filter(**{key: OuterRef("pk")}).values(column))
        for name, (children, key, column) in table.lists.items()
    }
    return rows.annotate(**times, **arrays).values_list(*columns, *arrays)


def _named(columns: Iterable[str]) -> type:
    """The named tuple of rows with these columns, each time under its field's name."""
    return create_namedtuple_class(*(column.removesuffix(_MICROS) for column in columns))


def _read(table: Table, rows: Iterable[tuple], alias: str) -> list[Row]:
    """`shaped` rows the ORM read, which come in the order `shaped` asked for them."""
    row = _named((*table.fields, *(table.lists if _postgresql(alias) else ())))
    return [row(*values) for values in rows]


def with_lists(table: Table, rows: list[Row], alias: str = "default") -> list[Row]:
    """A chunk of `shaped` rows with the table's lists, which SQLite reads one query
    each (PostgreSQL's rows have them already)."""
    if not table.lists or not rows or _postgresql(alias):
        return rows
    ids = [row.pk for row in rows]
    found = {}
    for name, (children, key, column) in table.lists.items():
        found[name] = defaultdict(list)
        for parent, value in children.filter(**{f"{key}__in": ids}).values_list(key, column):
            found[name][parent].append(value)
    listed = create_namedtuple_class(*rows[0]._fields, *found)
    return [listed(*row, *(found[name][row.pk] for name in found)) for row in rows]


@dataclass(frozen=True)
class _Compiled:
    alias: str
    model: type[Model]
    statement: statements.Compiled
    row: type
    converted: statements.Converted

    def rows(self, values: dict[str, Any]) -> list[Row]:
        """The rows for `values` (the probes' names: the user's pk, the cut-off...)."""
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(self.statement.written(values, connection))
            else:
                cursor.execute(self.statement.sql, self.statement.bind(values))
            fetched = self.converted.rows(cursor, connection)
        return [self.row(*row) for row in fetched]


def _compile(
    build: Callable[..., QuerySet], names: tuple[str, ...], alias: str
) -> _Compiled | None:
    """`build(user=..., ...)` (with the values of `names`) compiled once, or None."""

    def query_of(values: dict[str, Any]) -> QuerySet:
        return build(**{**values, "user": User(pk=values["user"])})

    probes = tuple({name: probe[name] for name in names} for probe in _PROBES)
    compiled = statements.compile_once(query_of, probes, alias=alias)
    if compiled is None:
        return None
    statement, compiler = compiled
    converted = statements.Converted(compiler)
    return _Compiled(alias, compiler.query.model, statement, _named(converted.columns), converted)


_compiled: dict[tuple, _Compiled | None] = {}


def _statement(
    key: tuple, build: Callable[..., QuerySet], names: tuple[str, ...], alias: str
) -> _Compiled | None:
    key = (*key, connections[alias].vendor, alias)
    if key not in _compiled:
        _compiled[key] = _compile(build, names, alias)
    return _compiled[key]


def first_rows(
    table: Table, user: User, since: int | None, limit: int, alias: str = "default"
) -> list[Row]:
    """The first `limit` rows of `table.rows(user, since)` in key order, `shaped` and
    with their lists, as the table's compiled statement reads them (or through the ORM
    when it cannot be reused)."""

    def build(user: User, since: int | None = None) -> QuerySet:
        return shaped(table, table.rows(user, since).using(alias)).order_by("pk")[:limit]

    names = ("user", "since") if since else ("user",)
    compiled = _statement(("rows", limit, table.name, bool(since)), build, names, alias)
    if compiled is None:
        rows = _read(table, build(user, since), alias)
    else:
        rows = compiled.rows({"user": user.pk, "since": since})
    return with_lists(table, rows, alias)


def rows_after(
    table: Table, user: User, since: int | None, after: Any, size: int
) -> Iterator[list[Row]]:
    """The rows past key `after`, in chunks of `size`, through a server-side cursor
    (what a first pull of a big account needs: it streams without holding them)."""
    rows = shaped(table, table.rows(user, since).filter(pk__gt=after)).order_by("pk")
    chunk: list[tuple] = []
    for row in rows.iterator(chunk_size=size):
        chunk.append(row)
        if len(chunk) == size:
            yield with_lists(table, _read(table, chunk, rows.db), rows.db)
            chunk = []
    if chunk:
        yield with_lists(table, _read(table, chunk, rows.db), rows.db)


def readable_ids(table: Table, user: User, ids: list[str], alias: str = "default") -> set[str]:
    """Those of `ids` (as text) that are among the rows the user reads. On PostgreSQL the
    ids go as one array into the compiled statement; elsewhere through the ORM."""

    def build(user: User, ids: list) -> QuerySet:
        listed = RawSQL("SELECT unnest(%s)", (ids,))
        return table.rows(user, None).filter(pk__in=listed).values_list("pk")

    compiled = None
    if connections[alias].vendor == "postgresql":
        compiled = _statement(("readable", table.name), build, ("user", "ids"), alias)
    visible = table.rows(user, None).using(alias) if compiled is None else None
    key = (compiled.model if visible is None else visible.model)._meta.pk
    # A tombstone may name an id the table's key cannot hold (a set log the app created
    # under its own UUID, which the server stored under a number): nobody reads it.
    keys = [parsed for raw in ids if (parsed := _key(key, raw)) is not None]
    if not keys:
        return set()
    if visible is not None:
        return {str(row_id) for row_id in visible.filter(pk__in=keys).values_list("pk", flat=True)}
    return {str(row.pk) for row in compiled.rows({"user": user.pk, "ids": keys})}


def tombstones(user: User, since: int, alias: str = "default") -> list[tuple[str, str]]:
    """(table name, row id) of the user's tombstones since the cut-off."""

    def build(user: User, since: int) -> QuerySet:
        rows = SyncTombstone.objects.using(alias).filter(user_id=user.pk, sync_version__gte=since)
        return rows.values_list("table_name", "row_id")

    compiled = _statement(("tombstones",), build, ("user", "since"), alias)
    if compiled is None:
        return list(build(user, since))
    return compiled.rows({"user": user.pk, "since": since})


@cache
def _horizon_sql(alias: str) -> tuple[str, tuple]:
    # The same statement every pull, without parameters of the pull's.
    query = SyncHorizon.objects.filter(pk=1).values_list("pruned_through").query
    return query.get_compiler(alias).as_sql()


def horizon(alias: str = "default") -> int | None:
    """The marker through which tombstones have been pruned (None: never)."""
    sql, params = _horizon_sql(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row and row[0]


def _key(key: Field, raw: str) -> Any:
    try:
        return key.to_python(raw)
    except ValidationError:
        return None
