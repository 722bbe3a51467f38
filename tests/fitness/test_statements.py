"""`fitness.statements.compile_once`: a read compiled for two probes reads, with each
call's values bound, what the ORM reads; anything else that differs is refused."""

import uuid
from unittest import mock

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler

from fitness.statements import compile_once
from food.models import FoodLog
from storage.models import StoredFile
from sync import statements as sync_statements
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
    table = TABLES["food_logs"]
    sync_statements.first_rows(table, user, None, 10)
    compiled = mock.Mock(wraps=SQLCompiler.as_sql)

    with mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=compiled):
        rows = sync_statements.first_rows(table, other_user, None, 10)

    # Only the linked images' prefetch (a query per chunk, by design) is compiled.
    assert {call.args[0].query.model for call in compiled.call_args_list} <= {StoredFile}
    assert [row.pk for row in rows] == [theirs.pk]


@pytest.mark.parametrize("since", [None, 1], ids=["first pull", "incremental"])
def test_every_sync_table_but_the_clock_reading_one_compiles_once(user, since):
    # The cut-off is a bigint, which Django hands psycopg wrapped (`Int8`): that wrapper
    # once kept every incremental statement from compiling, unnoticed but in the CPU.
    for table in TABLES.values():
        sync_statements.first_rows(table, user, since, 10)
        key = ("rows", 10, table.name, connection.vendor, "default", bool(since))
        assert (sync_statements._compiled[key] is None) == table.reads_clock, table.name
