"""Pages of plain rows for the busiest list endpoints.

A list of 50 objects through model instances and DRF serializers costs several times the
database's own time in Python. The lists read `values()` rows instead, with each child
collection (tags, readers...) as an array in the same statement, and the count of the
whole list beside them; each app renders the rows with a function tested byte for byte
against its serializer. `hasMore` comes from reading one row past the page.

On PostgreSQL that is one statement. The embedded SQLite default has no arrays: there each
child collection is one more query for the page, as a prefetch would be.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from typing import Any

from django.contrib.postgres.fields import ArrayField
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


class _EpochMicroseconds(Func):
    """A timestamp as whole microseconds since 1970 (exact: EXTRACT gives a numeric).

    Django loads `timestamptz` through its own subclass of psycopg's pure-Python loader,
    about 10 µs a value: for three times on 50 rows that is more than the rest of the
    statement's decoding. An integer decodes in C.
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
    if total is None:
        count = _count(queryset)
        counted = queryset.count
    else:
        count = Coalesce(Subquery(total), 0)
        counted = partial(_first_or_zero, total)
    if connections[queryset.db].vendor == "postgresql":
        times = _time_fields(queryset, fields)
        extra = {
            name: RawSQL(  # noqa: S611 - _array_sql holds no input
                _array_sql(queryset.model, child.model, fk, column, tuple(child.query.order_by)),
                (),
                output_field=ArrayField(TextField()),
            )
            for name, (child, fk, column) in children.items()
        }
        extra.update({f"_us_{name}": _EpochMicroseconds(name) for name in times})
        plain = [name for name in fields if name not in times]
        rows = list(queryset.values(*plain).annotate(**extra, _total=count)[offset:end])
        for row in rows:
            for name in times:
                micros = row.pop(f"_us_{name}")
                row[name] = None if micros is None else _EPOCH + timedelta(microseconds=micros)
        totals = [row.pop("_total") for row in rows]
        has_more = len(rows) > size
        if totals:
            return RowPage(rows[:size], totals[0], has_more)
        return RowPage([], counted() if offset else 0, False)
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


def grouped(rows: QuerySet, key: str) -> dict[Any, list[dict[str, Any]]]:
    """`values()` rows of a page's children by their parent, in the rows' order."""
    by_parent: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_parent[row[key]].append(row)
    return by_parent
