"""`fitness.statements.compile_once`: a read compiled for two probes reads, with each
call's values bound, what the ORM reads; anything else that differs is refused."""

import threading
import uuid
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL
from django.db.models.sql.compiler import SQLCompiler

from fitness.statements import Compiled, Converted, compile_once
from food.models import FoodLog, FoodLogShare, FoodLogTag
from sync import statements as sync_statements
from sync.models import SyncTombstone
from sync.tables import TABLES
from tests.factories import UserFactory
from tests.food.factories import FoodLogFactory

pytestmark = pytest.mark.django_db


def _probes(*names: str) -> tuple[dict, dict]:
    return tuple({name: uuid.uuid4() for name in names} for _ in range(2))


def _logs(values: dict):
    return FoodLog.objects.filter(owner_id=values["owner"], deleted_at__isnull=True).order_by("id")


def test_bound_to_a_user_it_reads_what_the_orm_reads(user, other_user):
    FoodLogFactory.create_batch(2, owner=user)
    FoodLogFactory(owner=other_user)
    statement, _ = compile_once(lambda values: _logs(values).values_list("id"), _probes("owner"))

    for owner in (user, other_user, UserFactory()):
        rows = FoodLog.objects.raw(
            f"SELECT id FROM ({statement.sql}) AS s", statement.bind({"owner": owner.pk})
        )

        assert [log.pk for log in rows] == [log.pk for log in _logs({"owner": owner.pk})]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="client-side binding")
def test_written_with_a_users_values_it_reads_what_the_orm_reads(user, other_user):
    # Constants that quoting must get right: a quote and a percent sign, a number.
    name = "50% o'clock"
    FoodLogFactory(owner=user, name=name)
    FoodLogFactory(owner=user, name="other")
    FoodLogFactory(owner=other_user, name=name)

    def build(values: dict):
        rows = _logs(values).filter(name=name, calories__gte=-1)
        return rows.values_list("id")

    statement, _ = compile_once(build, _probes("owner"))
    assert len(statement.params) > len(statement.slots)

    read = {}
    for owner in (user, other_user, UserFactory()):
        with connection.cursor() as cursor:
            cursor.execute(statement.written({"owner": owner.pk}, connection))
            read[owner] = cursor.fetchall()

        assert read[owner] == list(build({"owner": owner.pk}))
    assert len(read[user]) == len(read[other_user]) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="client-side binding")
def test_threads_that_write_a_statement_first_at_once_each_get_it_whole(user):
    statement, _ = compile_once(lambda values: _logs(values).values_list("id"), _probes("owner"))
    expected = Compiled(statement.sql, statement.params, statement.slots)
    ours = connections["default"]  # this thread's: the threads only quote, never query
    split = Compiled._split
    both = threading.Barrier(2)

    def split_together(self, literal):
        pieces = split(self, literal)
        both.wait(timeout=5)
        return pieces

    written = []

    def write() -> None:
        written.append(statement.written({"owner": user.pk}, ours))

    with mock.patch.object(Compiled, "_split", autospec=True, side_effect=split_together):
        threads = [threading.Thread(target=write) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert written == [expected.written({"owner": user.pk}, connection)] * 2


def test_another_parameter_that_differs_between_probes_is_refused():
    def build(values: dict):
        # The probes' values decide a constant: no slot can hold that.
        return _logs(values).filter(calories=values["owner"].int % 1000)

    assert compile_once(build, _probes("owner")) is None


def test_a_probe_value_the_statement_does_not_take_is_refused():
    assert compile_once(lambda values: FoodLog.objects.all(), _probes("owner")) is None


def test_a_sync_table_compiles_its_first_chunk_once(user, other_user):
    FoodLogFactory(owner=user)
    theirs = FoodLogFactory(owner=other_user)
    FoodLogTag.objects.create(food_log=theirs, name="oats")
    table = TABLES["food_logs"]
    sync_statements.first_rows(table, user, None, 10)
    compiled = mock.Mock(wraps=SQLCompiler.as_sql)

    with mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=compiled):
        rows = sync_statements.first_rows(table, other_user, None, 10)

    # On PostgreSQL the tags are an array in the same statement; SQLite reads each list
    # with a query of its own.
    lists = {FoodLogTag, FoodLogShare} if connection.vendor == "sqlite" else set()
    assert {call.args[0].query.model for call in compiled.call_args_list} == lists
    assert [(row.pk, row.tag_names) for row in rows] == [(theirs.pk, ["oats"])]


@pytest.mark.parametrize("since", [None, 1], ids=["first pull", "incremental"])
def test_every_sync_table_compiles_once(user, since):
    # The cut-off is a bigint, which Django hands psycopg wrapped (`Int8`): that wrapper
    # once kept every incremental statement from compiling, unnoticed but in the CPU.
    # The stored files' expiry is read on the database's clock for the same reason.
    for table in TABLES.values():
        sync_statements.first_rows(table, user, since, 10)
        key = ("rows", 10, table.name, bool(since), connection.vendor, "default")
        assert sync_statements._compiled[key] is not None, table.name


def test_the_tombstones_statement_compiles_once(user, other_user):
    for owner, row_id, version in ((user, "a", 5), (other_user, "b", 5), (other_user, "c", 1)):
        SyncTombstone.objects.create(
            user_id=owner.pk, table_name="workouts", row_id=row_id, sync_version=version
        )
    sync_statements.tombstones(user, 2)
    compiled = mock.Mock(wraps=SQLCompiler.as_sql)

    with mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=compiled):
        gone = sync_statements.tombstones(other_user, 2)

    assert compiled.call_args_list == []
    assert [tuple(row) for row in gone] == [("workouts", "b")]


def test_converted_rows_are_what_the_orm_reads_integer_typed_or_not(user):
    FoodLogFactory(owner=user, calories=250)
    # Both integers to Django; the database types the first as an integer, the second as
    # a numeric, whose int() converter must stay.
    logs = FoodLog.objects.filter(owner=user).annotate(
        doubled=RawSQL("calories * 2", (), output_field=IntegerField()),
        halved=RawSQL("calories / 2.0", (), output_field=IntegerField()),
    )
    queryset = logs.values("calories", "doubled", "halved")
    compiler = queryset.query.get_compiler(using="default")
    sql, params = compiler.as_sql()
    converted = Converted(compiler)

    with connection.cursor() as cursor:
        for _ in range(2):  # the first execution resolves the converters, the next reuses them
            cursor.execute(sql, params)
            fetched = converted.rows(cursor, connection)
            rows = [dict(zip(converted.columns, row, strict=True)) for row in fetched]
            assert rows == list(queryset) == [{"calories": 250, "doubled": 500, "halved": 125}]
            assert all(type(value) is int for value in rows[0].values())


def test_a_statement_selecting_other_columns_than_its_names_is_refused(user):
    compiler = FoodLog.objects.values("calories", "name").query.get_compiler(using="default")
    compiler.as_sql()
    converted = Converted(compiler)

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        with pytest.raises(ImproperlyConfigured, match="selects 1 columns for 2 names"):
            converted.rows(cursor, connection)
