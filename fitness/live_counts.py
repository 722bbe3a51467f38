# ruff: noqa: S608 -- every statement is built from the constant names below, never from input
"""Triggers that keep a count of rows per owner (or per parent) in a table of counts:
`fitness.LiveRowCount`, each user's live food logs and workouts, and
`ai_assistant.ChatMessageCount`, each conversation's messages.

A row counts while it is live (`deleted_at` null, for tables with tombstones; always,
for the others): an insert of a live row adds one for its group, a hard delete of a live
row takes one away, and an update moves the count by what changed (a tombstone -1, a
restore +1, a new group -1/+1, an edit nothing).

PostgreSQL: statement-level triggers with transition tables, so a batch create of 500
rows changes the counter row once, by 500, not 500 times; the net change per group is
applied by an upsert where it adds (the group's first row creates the counter; a
concurrent first insert waits on the other's row and then adds to it) and by an UPDATE
where it takes away (a decrement never creates a row: during a cascade delete of the
group the counter row may already be gone, and re-creating it would break the foreign key
at commit). SQLite (the embedded default): row-level triggers doing the same one row at a
time; it has one writer at a time.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import QuerySet

from accounts.models import User
from fitness.models import LiveRowCount

COUNTS = "fitness_liverowcount"


@dataclass(frozen=True)
class Counted:
    """The rows of `table`, counted per value of its `group` column, in `column` of the
    row of `counts` whose key `key` is that value. `columns` are every count column of
    `counts` (a new counter row starts the others at zero); `tombstones`: rows with
    `deleted_at` set do not count."""

    table: str
    group: str
    column: str
    counts: str
    key: str
    columns: tuple[str, ...]
    tombstones: bool

    @property
    def live(self) -> str:
        return " WHERE deleted_at IS NULL" if self.tombstones else ""


_USER_COLUMNS = ("food_logs", "workouts")
USER_COUNTS = (
    Counted("food_foodlog", "owner_id", "food_logs", COUNTS, "user_id", _USER_COLUMNS, True),
    Counted("workouts_workout", "owner_id", "workouts", COUNTS, "user_id", _USER_COLUMNS, True),
)


def _upsert(counted: Counted, select: str) -> str:
    c = counted
    others = [other for other in c.columns if other != c.column]
    columns = ", ".join([c.key, c.column, *others])
    values = ", ".join([c.group, "n", *("0" for _ in others)])
    return (
        f"INSERT INTO {c.counts} ({columns}) "
        f"SELECT {values} FROM ({select}) AS d WHERE n > 0 "
        f"ON CONFLICT ({c.key}) DO UPDATE SET {c.column} = {c.counts}.{c.column} "
        f"+ EXCLUDED.{c.column};"
    )


def _postgresql(counted: Counted) -> list[str]:
    c, live, group = counted, counted.live, counted.group
    delta = {
        "INSERT": f"SELECT {group}, count(*) AS n FROM new_rows{live} GROUP BY {group}",
        "DELETE": f"SELECT {group}, -count(*) AS n FROM old_rows{live} GROUP BY {group}",
        "UPDATE": (
            f"SELECT {group}, sum(n) AS n FROM ("
            f"SELECT {group}, 1 AS n FROM new_rows{live} "
            f"UNION ALL SELECT {group}, -1 AS n FROM old_rows{live}"
            f") AS changes GROUP BY {group}"
        ),
    }
    referencing = {
        "INSERT": "NEW TABLE AS new_rows",
        "DELETE": "OLD TABLE AS old_rows",
        "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    }
    sql = []
    for event, select in delta.items():
        name = f"live_count_{event.lower()}_{c.table}"
        body = _upsert(c, select) if event != "DELETE" else ""
        if event != "INSERT":
            body += (
                f" UPDATE {c.counts} SET {c.column} = {c.counts}.{c.column} + d.n "
                f"FROM ({select}) AS d WHERE {c.counts}.{c.key} = d.{group} AND d.n < 0;"
            )
        sql.append(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$;"
        )
        sql.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {c.table} REFERENCING {referencing[event]} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}();"
        )
    return sql


def _sqlite(counted: Counted) -> list[str]:
    c, group = counted, counted.group
    add = _upsert(c, f"SELECT NEW.{group} AS {group}, 1 AS n")
    take = f"UPDATE {c.counts} SET {c.column} = {c.column} - 1 WHERE {c.key} = OLD.{group};"
    if c.tombstones:
        when_new, when_old = " WHEN NEW.deleted_at IS NULL", " WHEN OLD.deleted_at IS NULL"
        when_moved_old, when_moved_new = when_old, when_new
    else:
        when_new = when_old = ""
        # Every row counts: only a move to another group changes a count.
        when_moved_old = when_moved_new = f" WHEN OLD.{group} IS NOT NEW.{group}"
    return [
        f"CREATE TRIGGER live_count_insert_{c.table} AFTER INSERT ON {c.table}"
        f"{when_new} BEGIN {add} END;",
        f"CREATE TRIGGER live_count_delete_{c.table} AFTER DELETE ON {c.table}"
        f"{when_old} BEGIN {take} END;",
        f"CREATE TRIGGER live_count_update_old_{c.table} AFTER UPDATE ON {c.table}"
        f"{when_moved_old} BEGIN {take} END;",
        f"CREATE TRIGGER live_count_update_new_{c.table} AFTER UPDATE ON {c.table}"
        f"{when_moved_new} BEGIN {add} END;",
    ]


def live_count(user: User, kind: Literal["food_logs", "workouts"]) -> QuerySet:
    """The user's maintained count of `kind`, as a one-value query (no row: zero), to
    read on its own or inside a page's statement."""
    return LiveRowCount.objects.filter(user=user).values_list(kind, flat=True)


Operation = Callable[[object, BaseDatabaseSchemaEditor], None]


def trigger_operations(*counts: Counted) -> tuple[Operation, Operation]:
    """A migration's RunPython pair for these counts: the forward one counts what exists,
    then installs the triggers that keep counting (rows written meanwhile by another
    connection would be missed, as with any backfill); the reverse drops them."""

    def install(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        postgresql = schema_editor.connection.vendor == "postgresql"
        for c in counts:
            schema_editor.execute(
                _upsert(
                    c, f"SELECT {c.group}, count(*) AS n FROM {c.table}{c.live} GROUP BY {c.group}"
                )
            )
            for statement in _postgresql(c) if postgresql else _sqlite(c):
                schema_editor.execute(statement)

    def drop(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        postgresql = schema_editor.connection.vendor == "postgresql"
        for c in counts:
            if postgresql:
                for event in ("insert", "delete", "update"):
                    name = f"live_count_{event}_{c.table}"
                    schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {c.table};")
                    schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}();")
            else:
                for event in ("insert", "delete", "update_old", "update_new"):
                    schema_editor.execute(f"DROP TRIGGER IF EXISTS live_count_{event}_{c.table};")

    return install, drop


install_triggers, drop_triggers = trigger_operations(*USER_COUNTS)
