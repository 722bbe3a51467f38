"""Pages of plain rows for the busiest list endpoints.

A list of 50 objects through model instances and DRF serializers costs several times the
database's own time in Python. The lists read `values()` rows instead, with each child
collection (tags, readers...) as an array in the same statement, and the count of the
whole list beside them; each app renders the rows with a function tested byte for byte
against its serializer. `hasMore` comes from reading one row past the page.

On PostgreSQL that is one statement. The embedded SQLite default has no arrays: there each
child collection is one more query for the page, as a prefetch would be.

The unfiltered lists, which the app reads all day, go further (`OwnerPages`, `ChildRows`):
their statements are compiled once per process and then only executed, with the caller's
id, limit and offset (or the page's ids) in the parameters.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property, partial
from typing import Any
from uuid import uuid4

from django.contrib.auth import get_user_model
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import (
    BigIntegerField,
    Count,
    DateTimeField,
    Func,
    Model,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from fitness import statements

# name -> (child rows, their foreign key to the parent, the child column the array holds)
Children = dict[str, tuple[QuerySet, str, str]]


@dataclass(frozen=True)
class RowPage:
    rows: list[Any]
    total: int
    has_more: bool


def _count(queryset: QuerySet) -> Subquery:
    # Grouping by a constant leaves no GROUP BY: one count over the whole filtered set,
    # which PostgreSQL answers from the owner's partial index when that is cheaper.
    counted = queryset.order_by().annotate(_all=Value(1)).values("_all")
    return Subquery(counted.annotate(n=Count("pk")).values("n"))


class EpochMicroseconds(Func):
    """A timestamp as whole microseconds since 1970 (exact: EXTRACT gives a numeric).

    Django loads `timestamptz` through its own subclass of psycopg's pure-Python loader,
    about 10 µs a value: for three times on 50 rows that is more than the rest of the
    statement's decoding (and for 2,000 food logs a fifth of a first sync pull's CPU). An
    integer decodes in C.
    """

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time_fields(queryset: QuerySet, fields: tuple[str, ...]) -> set[str]:
    concrete = {field.attname: field for field in queryset.model._meta.concrete_fields}
    return {name for name in fields if isinstance(concrete.get(name), DateTimeField)}


@cache
def _array_sql(
    parent: type[Model], child: type[Model], fk: str, column: str, order: tuple[str, ...]
) -> str:
    """`ARRAY(SELECT column ...)` of one parent row's children, in `order`. The same as
    an ArraySubquery, written once per list and process: compiled for every page, the
    sub-queries were about a sixth of a list request's CPU (bench/profile_request.py).
    PostgreSQL returns the array's own element type (uuid[], varchar[]) whatever the
    output field says."""
    meta = child._meta

    def quoted(name: str) -> str:
        return f'c."{meta.get_field(name).column}"'

    ordering = ", ".join(
        f"{quoted(name[1:])} DESC" if name.startswith("-") else quoted(name) for name in order
    )
    parent_pk = f'"{parent._meta.db_table}"."{parent._meta.pk.column}"'
    # Only model metadata goes into it, never input.
    return (
        f'ARRAY(SELECT {quoted(column)} FROM "{meta.db_table}" c '  # noqa: S608
        f"WHERE {quoted(fk)} = {parent_pk} ORDER BY {ordering})"
    )


def _page_query(
    queryset: QuerySet, *, fields: tuple[str, ...], children: Children, total: QuerySet | None
) -> tuple[QuerySet, set[str]]:
    """The PostgreSQL page statement (not yet sliced) of `page`, and the time fields it
    reads as epoch microseconds."""
    count = _count(queryset) if total is None else Coalesce(Subquery(total), 0)
    times = _time_fields(queryset, fields)
    extra = {
        name: RawSQL(  # noqa: S611 - _array_sql holds no input
            _array_sql(queryset.model, child.model, fk, column, tuple(child.query.order_by)),
            (),
            output_field=ArrayField(TextField()),
        )
        for name, (child, fk, column) in children.items()
    }
    extra.update({f"_us_{name}": EpochMicroseconds(name) for name in times})
    plain = [name for name in fields if name not in times]
    return queryset.values(*plain).annotate(**extra, _total=count), times


def _page_of(
    rows: list[dict[str, Any]],
    times: set[str],
    *,
    offset: int,
    size: int,
    counted: Callable[[], int],
) -> RowPage:
    """The page from the rows of `_page_query` (up to one past the page)."""
    keys = [(name, f"_us_{name}") for name in times]
    for row in rows:
        for name, key in keys:
            micros = row.pop(key)
            # Positional: a quarter cheaper than `microseconds=`, 150 times a page.
            row[name] = None if micros is None else _EPOCH + timedelta(0, 0, micros)
    totals = [row.pop("_total") for row in rows]
    if totals:
        return RowPage(rows[:size], totals[0], len(rows) > size)
    return RowPage([], counted() if offset else 0, False)


def page(
    queryset: QuerySet,
    *,
    fields: tuple[str, ...],
    children: Children,
    offset: int,
    size: int,
    total: QuerySet | None = None,
) -> RowPage:
    """Rows `offset` to `offset + size` of the (ordered) `queryset`. `total`: a one-row,
    one-column query that answers the count of all of `queryset` (a maintained count),
    read instead of counting it; no row means zero."""
    end = offset + size + 1
    counted = queryset.count if total is None else partial(_first_or_zero, total)
    if connections[queryset.db].vendor == "postgresql":
        query, times = _page_query(queryset, fields=fields, children=children, total=total)
        return _page_of(list(query[offset:end]), times, offset=offset, size=size, counted=counted)
    rows = list(queryset.values(*fields)[offset:end])
    has_more = len(rows) > size
    rows = rows[:size]
    ids = [row["id"] for row in rows]
    for name, (child, fk, column) in children.items():
        grouped: dict[Any, list] = defaultdict(list)
        if ids:
            pairs = child.filter(**{f"{fk}__in": ids}).values_list(f"{fk}_id", column)
            for parent, value in pairs:
                grouped[parent].append(value)
        for row in rows:
            row[name] = grouped.get(row["id"], [])
    known = not has_more and (rows or not offset)
    return RowPage(rows, offset + len(rows) if known else counted(), has_more)


@dataclass(frozen=True)
class _CompiledRows:
    """`values()` rows from a statement compiled once (`fitness.statements`), through
    the same Django converters as the QuerySet's."""

    using: str
    statement: statements.Compiled
    sql: str
    converted: statements.Converted

    @classmethod
    def of(
        cls,
        build: Callable[[dict[str, Any]], QuerySet],
        probe: dict[str, Callable[[], Any]],
        *,
        using: str,
        tail: str = "",
    ) -> "_CompiledRows":
        """`build(values)`, which must take `values[name]` for each name of `probe` into
        its parameters; `probe[name]()` makes a made-up value no call can equal."""
        probes = tuple({name: make() for name, make in probe.items()} for _ in range(2))
        compiled = statements.compile_once(build, probes, alias=using)
        if compiled is None:
            raise ImproperlyConfigured(
                f"The statement takes no {' or '.join(probe)}, or not only there."
            )
        statement, compiler = compiled
        return cls(
            using=using,
            statement=statement,
            sql=f"{statement.sql}{tail}",
            converted=statements.Converted(compiler),
        )

    def rows(self, values: dict[str, Any], tail: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [*self.statement.bind(values), *tail])
            fetched = self.converted.rows(cursor, connection)
        names = self.converted.columns
        # As many as the statement selects (checked at its first execution, `Converted`).
        return [dict(zip(names, row, strict=False)) for row in fetched]


class OwnerPages:
    """`page` of all of one user's rows, the statement compiled once per process for a
    stand-in owner (see `fitness.statements`): the owner, the limit and the offset are all that
    change between callers.

    `rows_of(owner)`: the owner's rows, filtered by owner and ordered, not sliced;
    `counted(owner)`: their maintained count (see `page`'s `total`). On SQLite, `page`.
    """

    def __init__(
        self,
        rows_of: Callable[[Any], QuerySet],
        *,
        counted: Callable[[Any], QuerySet],
        fields: tuple[str, ...],
        children: Children,
    ) -> None:
        self._rows_of = rows_of
        self._counted = counted
        self._fields = fields
        self._children = children

    def _queryset(self, owner: Any) -> QuerySet:
        return self._rows_of(owner).prefetch_related(None).select_related(None)

    @cached_property
    def _statement(self) -> tuple[_CompiledRows, set[str]] | None:
        user = get_user_model()
        sample = self._queryset(user(pk=uuid4()))
        if connections[sample.db].vendor != "postgresql":
            return None
        if sample.query.is_sliced:
            raise ImproperlyConfigured("OwnerPages slices the rows itself.")
        # The count's sub-query names the owner too: the rows themselves must.
        _CompiledRows.of(
            lambda values: self._queryset(user(pk=values["owner"])).values("pk"),
            {"owner": uuid4},
            using=sample.db,
        )

        def build(values: dict[str, Any]) -> QuerySet:
            owner = user(pk=values["owner"])
            query, _ = _page_query(
                self._queryset(owner),
                fields=self._fields,
                children=self._children,
                total=self._counted(owner),
            )
            return query

        compiled = _CompiledRows.of(
            build, {"owner": uuid4}, using=sample.db, tail=" LIMIT %s OFFSET %s"
        )
        return compiled, _time_fields(sample, self._fields)

    def page(self, owner: Any, *, offset: int, size: int) -> RowPage:
        if self._statement is None:
            return page(
                self._queryset(owner),
                fields=self._fields,
                children=self._children,
                offset=offset,
                size=size,
                total=self._counted(owner),
            )
        statement, times = self._statement
        rows = statement.rows({"owner": owner.pk}, (size + 1, offset))
        counted = partial(self._count_of, owner)
        return _page_of(rows, times, offset=offset, size=size, counted=counted)

    def _count_of(self, owner: Any) -> int:
        return _first_or_zero(self._counted(owner))


class ChildRows:
    """`values()` rows of the children of a page's parents, grouped by parent (as
    `grouped` gives them), the statement compiled once per process (see `fitness.statements`).

    `rows`: the ordered `values()` of all children; `parent`: the lookup that leads from
    a child to its parent's id (`workout_id`, or through a join `exercise__workout_id`);
    `key`: the field `grouped` groups by. The ids go in as one array
    (`IN (SELECT unnest(%s))`), so the statement is the same whatever the page's length.
    On SQLite, the ORM with `__in`.
    """

    def __init__(self, rows: Callable[[], QuerySet], *, parent: str, key: str) -> None:
        self._rows = rows
        self._parent = parent
        self._key = key

    @cached_property
    def _statement(self) -> _CompiledRows | None:
        rows = self._rows()
        if connections[rows.db].vendor != "postgresql":
            return None

        def build(values: dict[str, Any]) -> QuerySet:
            ids = RawSQL("SELECT unnest(%s)", (values["ids"],))
            return self._rows().filter(**{f"{self._parent}__in": ids})

        return _CompiledRows.of(build, {"ids": lambda: [uuid4()]}, using=rows.db)

    def of(self, ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
        if self._statement is None:
            return grouped(self._rows().filter(**{f"{self._parent}__in": ids}), self._key)
        return grouped(self._statement.rows({"ids": ids}), self._key)


def _first_or_zero(total: QuerySet) -> int:
    return next(iter(total), 0)


def counted_page(
    queryset: QuerySet, *, offset: int, size: int, total: QuerySet | None = None
) -> RowPage:
    """Model instances `offset` to `offset + size` of the (ordered) `queryset`, with the
    count of all of it read in the same statement (PostgreSQL) and `hasMore` from one row
    past the page: for lists whose rows are few fields, where instances cost little.
    `total`: a maintained count of all of `queryset`, read instead of counting, as for
    `page`."""
    end = offset + size + 1
    if total is None:
        count = _count(queryset)
        counted = queryset.count
    else:
        count = Coalesce(Subquery(total), 0)
        counted = partial(_first_or_zero, total)
    if connections[queryset.db].vendor == "postgresql":
        rows = list(queryset.annotate(_page_total=count)[offset:end])
        if rows:
            return RowPage(rows[:size], rows[0]._page_total, len(rows) > size)
        return RowPage([], counted() if offset else 0, False)
    rows = list(queryset[offset:end])
    has_more = len(rows) > size
    known = not has_more and (rows or not offset)
    return RowPage(rows[:size], offset + len(rows) if known else counted(), has_more)


def grouped(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    """`values()` rows of a page's children by their parent, in the rows' order."""
    by_parent: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_parent[row[key]].append(row)
    return by_parent
