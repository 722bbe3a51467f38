"""Statements the ORM compiles once per process, for the reads that only a few parameters
tell apart from one call to the next.

Building a QuerySet and compiling it cost more CPU than the database takes to answer a
list page or a small sync pull (bench/profile_request.py), and the reads made all day
differ only in who asks (and since when, or for which parents). So the read is built and
compiled twice, for two made-up sets of those values (probes); where the two
compilations differ is where each call's values go. A read whose SQL differs anywhere
else, or whose other parameters do, cannot be reused, and `compile_once` says so with
None: its caller builds it per call, as before. The statement still runs through
Django's cursor (query logging, the tests' query counts, the database spans).

On PostgreSQL Django binds parameters client-side: psycopg writes each one into the text
it sends, after parsing the statement for its placeholders, which it caches only for
statements under 4 kB. A long statement with a hundred parameters (a visibility rule's
user ids, status names, flags) then cost more to bind than to run. `Compiled.written`
does the same writing once per process for the parameters that never change, and once
per call for each value, through psycopg's own quoting.

`Converted` turns an executed statement's rows into what the QuerySet would have given
(its converters, its columns' names), for the callers' row types (dicts, named tuples).
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import IntegerField, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from psycopg.adapt import Transformer

# What a probe's value is written as in compiled parameters, and how to write another
# value the same way: a UUID is itself on PostgreSQL, text on SQLite.
_Spell = Callable[[Any], Any]
_SPELLINGS: dict[type, tuple[tuple[Callable[[Any], Any], _Spell], ...]] = {
    uuid.UUID: (
        (lambda probe: probe, lambda value: value),
        (lambda probe: probe.hex, lambda value: value.hex),
        (str, str),
    ),
}


def _spelling(param: Any, probe: Any) -> _Spell | None:
    """How to write a value where the compiled parameter `param` holds `probe`."""
    for written, spell in _SPELLINGS.get(type(probe), ((lambda probe: probe, lambda v: v),)):
        expected = written(probe)
        if type(param) is type(expected) and param == expected:
            return spell
    # The backend's wrapper of the probe's own type: Django hands psycopg a bigint as
    # `Int8(n)`, a subclass of int, and the call's value must go in wrapped the same way.
    wrapper = type(param)
    if wrapper is not type(probe) and isinstance(param, type(probe)) and param == probe:
        return wrapper
    return None


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: tuple[Any, ...]
    # (parameter position, the name of the value it takes, how that value is written)
    slots: tuple[tuple[int, str, _Spell], ...]
    # The text split where each call's values go (see `written`), once per process.
    _template: list = field(default_factory=list, compare=False, repr=False)

    def bind(self, values: dict[str, Any]) -> list[Any]:
        """The parameters for `values` (by the probes' names)."""
        params = list(self.params)
        for position, name, spell in self.slots:
            params[position] = spell(values[name])
        return params

    def written(self, values: dict[str, Any], connection: BaseDatabaseWrapper) -> str:
        """PostgreSQL: the statement with `values` written in, as psycopg's client-side
        binding would write them; to be executed without parameters."""
        literal = Transformer(connection.connection).as_literal
        if not self._template:
            # Assigned whole: threads that race here each write the same pieces.
            self._template[:] = self._split(literal)
        written: dict[tuple[str, _Spell], str] = {}
        text = []
        for piece in self._template:
            if isinstance(piece, tuple):
                if piece not in written:
                    written[piece] = _literal(literal, piece[1](values[piece[0]]))
                piece = written[piece]
            text.append(piece)
        return "".join(text)

    def _split(self, literal: Callable[[Any], bytes]) -> list[str | tuple[str, _Spell]]:
        """The text as pieces: the constant parameters written in, each call's value as
        (its name, how it is written)."""
        slots = {position: (name, spell) for position, name, spell in self.slots}
        pieces: list[str | tuple[str, _Spell]] = [""]
        position = 0
        for token in _PLACEHOLDERS.split(self.sql):
            if token == "%%":
                token = "%"
            elif token == "%s":
                if position in slots:
                    pieces += [slots[position], ""]
                    position += 1
                    continue
                token = _literal(literal, self.params[position])
                position += 1
            pieces[-1] += token
        return pieces


_PLACEHOLDERS = re.compile("(%%|%s)")


def _literal(literal: Callable[[Any], bytes], value: Any) -> str:
    return "NULL" if value is None else literal(value).decode()


def compile_once(
    build: Callable[[dict[str, Any]], QuerySet],
    probes: tuple[dict[str, Any], dict[str, Any]],
    *,
    alias: str = "default",
) -> tuple[Compiled, SQLCompiler] | None:
    """`build(values)` compiled for both probes, and the compiler of the first (what it
    selects, its converters); None when the two compilations differ other than in the
    probes' values, or a probe's value is nowhere in them. Each probe names the same
    values, each of which no real call can equal (a fresh UUID, a negative marker)."""
    connection = connections[alias]
    compiled = []
    for probe in probes:
        compiler = build(probe).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        compiled.append((compiler, sql, tuple(params)))
    (compiler, sql, params), (_, other_sql, other_params) = compiled
    if sql != other_sql or len(params) != len(other_params):
        return None
    first, second = probes
    slots = []
    for position, (one, other) in enumerate(zip(params, other_params, strict=True)):
        slot = next(
            (
                (position, name, spell)
                for name in first
                if (spell := _spelling(one, first[name])) and _spelling(other, second[name])
            ),
            None,
        )
        if slot is not None:
            slots.append(slot)
        elif one != other or type(one) is not type(other):
            return None
    if {name for _, name, _ in slots} != set(first):
        return None
    return Compiled(sql, params, tuple(slots)), compiler


# psycopg's type codes of PostgreSQL's integer types (int8, int2, int4): it gives ints.
_INTEGER_TYPES = frozenset({20, 21, 23})


class Converted:
    """The rows of a compiled `values()` statement as the QuerySet makes them: named by
    `columns`, through the QuerySet's converters.

    But an integer expression's own converter, `int(value)`, is left out where the
    database types the column as an integer, which psycopg gives as an int already: on a
    list page those were four calls a row, for nothing. Which columns those are is read
    from the first execution's description (the statement's types never change).
    """

    def __init__(self, compiler: SQLCompiler) -> None:
        query = compiler.query
        # In the order the statement selects them, as Django's ValuesIterable names them
        # (Django 5.2 selects them in the order they were asked for).
        self.columns: tuple[str, ...] = tuple(
            query.selected or (*query.extra_select, *query.values_select, *query.annotation_select)
        )
        selected = [column for column, _, _ in compiler.select[: compiler.col_count]]
        self._converters = [
            (column, converters, expression)
            for column, (converters, expression) in compiler.get_converters(selected).items()
        ]
        self._needed: list | None = None

    def rows(self, cursor: Any, connection: BaseDatabaseWrapper) -> list:
        """The executed cursor's rows, converted."""
        fetched = cursor.fetchall()
        if self._needed is None:
            # Threads that race here each work out the same list.
            self._needed = self._resolve(cursor.description or ())
        if not self._needed:
            return fetched
        rows = [list(row) for row in fetched]
        for row in rows:
            for column, functions, expression in self._needed:
                for function in functions:
                    row[column] = function(row[column], expression, connection)
        return rows

    def _resolve(self, description: Any) -> list:
        if len(description) != len(self.columns):
            # Checked once here, so that the rows are named by a plain zip: a strict one
            # checked every row again, over a quarter of the time a workout page's 600
            # child rows took to name (360 against 260 µs, timed apart).
            raise ImproperlyConfigured(
                f"The statement selects {len(description)} columns for {len(self.columns)} names."
            )
        integer = {
            position for position, column in enumerate(description) if column[1] in _INTEGER_TYPES
        }
        needed = []
        for column, functions, expression in self._converters:
            output = getattr(expression, "output_field", None)
            if column in integer and isinstance(output, IntegerField):
                functions = [each for each in functions if each is not expression.convert_value]
            if functions:
                needed.append((column, functions, expression))
        return needed
