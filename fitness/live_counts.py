# ruff: noqa: S608 -- every statement is built from the constant names below, never from input
"""The triggers that keep `fitness.LiveRowCount` equal to each user's count of live rows.

A row counts while `deleted_at` is null: an insert of a live row adds one for its owner,
a hard delete of a live row takes one away, and an update moves the count by what changed
(a tombstone -1, a restore +1, a new owner -1/+1, an edit nothing).

PostgreSQL: statement-level triggers with transition tables, so a batch create of 500
logs changes the counter row once, by 500, not 500 times; the net change per owner is
applied by an upsert where it adds (the owner's first row creates the counter; a
concurrent first insert waits on the other's row and then adds to it) and by an UPDATE
where it takes away (a decrement never creates a row: during a user's cascade delete the
counter row may already be gone, and re-creating it would break the foreign key at
commit). SQLite (the embedded default): row-level triggers doing the same one row at a
time; it has one writer at a time.
"""

from typing import Literal

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import QuerySet

from accounts.models import User
from fitness.models import LiveRowCount

COUNTS = "fitness_liverowcount"
# table -> the column of LiveRowCount that counts its live rows
COUNTED = {"food_foodlog": "food_logs", "workouts_workout": "workouts"}
_COLUMNS = tuple(COUNTED.values())


def _upsert(column: str, select: str) -> str:
    zeros = ", ".join("0" for other in _COLUMNS if other != column)
    others = ", ".join(other for other in _COLUMNS if other != column)
    return (
        f"INSERT INTO {COUNTS} (user_id, {column}, {others}) "
        f"SELECT owner_id, n, {zeros} FROM ({select}) AS d WHERE n > 0 "
        f"ON CONFLICT (user_id) DO UPDATE SET {column} = {COUNTS}.{column} + EXCLUDED.{column};"
    )


def _postgresql(table: str, column: str) -> list[str]:
    live = "WHERE deleted_at IS NULL"
    delta = {
        "INSERT": f"SELECT owner_id, count(*) AS n FROM new_rows {live} GROUP BY owner_id",
        "DELETE": f"SELECT owner_id, -count(*) AS n FROM old_rows {live} GROUP BY owner_id",
        "UPDATE": (
            "SELECT owner_id, sum(n) AS n FROM ("
            f"SELECT owner_id, 1 AS n FROM new_rows {live} "
            f"UNION ALL SELECT owner_id, -1 AS n FROM old_rows {live}"
            ") AS changes GROUP BY owner_id"
        ),
    }
    referencing = {
        "INSERT": "NEW TABLE AS new_rows",
        "DELETE": "OLD TABLE AS old_rows",
        "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    }
    sql = []
    for event, select in delta.items():
        name = f"live_count_{event.lower()}_{table}"
        body = _upsert(column, select) if event != "DELETE" else ""
        if event != "INSERT":
            body += (
                f" UPDATE {COUNTS} SET {column} = {COUNTS}.{column} + d.n FROM ({select}) AS d "
                f"WHERE {COUNTS}.user_id = d.owner_id AND d.n < 0;"
            )
        sql.append(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$;"
        )
        sql.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing[event]} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}();"
        )
    return sql


def _sqlite(table: str, column: str) -> list[str]:
    add = _upsert(column, "SELECT NEW.owner_id AS owner_id, 1 AS n")
    take = f"UPDATE {COUNTS} SET {column} = {column} - 1 WHERE user_id = OLD.owner_id;"
    return [
        f"CREATE TRIGGER live_count_insert_{table} AFTER INSERT ON {table} "
        f"WHEN NEW.deleted_at IS NULL BEGIN {add} END;",
        f"CREATE TRIGGER live_count_delete_{table} AFTER DELETE ON {table} "
        f"WHEN OLD.deleted_at IS NULL BEGIN {take} END;",
        f"CREATE TRIGGER live_count_update_old_{table} AFTER UPDATE ON {table} "
        f"WHEN OLD.deleted_at IS NULL BEGIN {take} END;",
        f"CREATE TRIGGER live_count_update_new_{table} AFTER UPDATE ON {table} "
        f"WHEN NEW.deleted_at IS NULL BEGIN {add} END;",
    ]


def live_count(user: User, kind: Literal["food_logs", "workouts"]) -> QuerySet:
    """The user's maintained count of `kind`, as a one-value query (no row: zero), to
    read on its own or inside a page's statement."""
    return LiveRowCount.objects.filter(user=user).values_list(kind, flat=True)


def install_triggers(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Counts what exists, then keeps counting (run in a migration: rows written meanwhile
    by another connection would be missed, as with any backfill)."""
    postgresql = schema_editor.connection.vendor == "postgresql"
    for table, column in COUNTED.items():
        schema_editor.execute(
            _upsert(
                column,
                f"SELECT owner_id, count(*) AS n FROM {table} "
                "WHERE deleted_at IS NULL GROUP BY owner_id",
            )
        )
        for statement in _postgresql(table, column) if postgresql else _sqlite(table, column):
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    postgresql = schema_editor.connection.vendor == "postgresql"
    for table in COUNTED:
        if postgresql:
            for event in ("insert", "delete", "update"):
                schema_editor.execute(
                    f"DROP TRIGGER IF EXISTS live_count_{event}_{table} ON {table};"
                )
                schema_editor.execute(f"DROP FUNCTION IF EXISTS live_count_{event}_{table}();")
        else:
            for event in ("insert", "delete", "update_old", "update_new"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS live_count_{event}_{table};")
