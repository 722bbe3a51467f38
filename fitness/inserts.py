"""Inserts that say which rows they stored, and how, in the INSERT itself.

`bulk_create` cannot do both things a create needs without more statements:
with `ignore_conflicts` it does not tell which rows went in (so an idempotent create had to
wrap a plain insert in a savepoint to catch the duplicate), and it returns only the keys,
so an answer that must show the rows as stored (decimals rounded to their column, JSON as
the database gives it back) had to read them again. `INSERT ... ON CONFLICT DO NOTHING
RETURNING <every column>` does both, on PostgreSQL and on SQLite (3.35 and later).
"""

from collections.abc import Sequence
from typing import TypeVar

from django.db import connections, router
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

M = TypeVar("M", bound=Model)


def insert_rows(rows: Sequence[M], *, skip_taken: bool = False, read_back: bool = False) -> list[M]:
    """Inserts `rows` (unsaved instances of one model) and returns those it inserted.

    `skip_taken`: a row whose key is already taken is left out, without an error, so no
    savepoint is needed; PostgreSQL first waits for a concurrent transaction holding the
    key, so a row is skipped only when its rival committed. The rows must carry their keys.
    `read_back`: every field of an inserted row is set to the value the database stored,
    so it renders as a later read of it would.
    """
    if not rows:
        return []
    model = type(rows[0])
    opts = model._meta
    using = router.db_for_write(model)
    connection = connections[using]
    keyed = all(row.pk is not None for row in rows)
    if skip_taken and not keyed:
        raise ValueError("Rows that may be skipped need their keys to be matched.")
    fields = [field for field in opts.concrete_fields if keyed or field is not opts.auto_field]
    returning = list(opts.concrete_fields) if read_back else [opts.pk]
    inserted: list[M] = []
    size = max(connection.ops.bulk_batch_size(fields, rows), 1)
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE if skip_taken else None)
        query.insert_values(fields, batch)
        compiler = query.get_compiler(using=using)
        compiler.returning_fields = returning
        [(sql, params)] = compiler.as_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            stored = cursor.fetchall()
        converters = compiler.get_converters([field.get_col(opts.db_table) for field in returning])
        if converters:
            stored = list(compiler.apply_converters(stored, converters))
        if skip_taken:
            by_key = {row.pk: row for row in batch}
            pk_index = returning.index(opts.pk)
            matched = [(by_key[values[pk_index]], values) for values in stored]
        else:
            # Unskipped rows come back in the order they were sent, as bulk_create relies on.
            matched = list(zip(batch, stored, strict=True))
        for row, values in matched:
            for field, value in zip(returning, values, strict=True):
                setattr(row, field.attname, value)
            row._state.adding = False
            row._state.db = using
            inserted.append(row)
    return inserted
