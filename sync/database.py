# ruff: noqa: S608 -- every statement is built from the constant table names below, never from input
"""The change markers and tombstones of synced rows, kept by database triggers.

Why triggers: every write must move the marker, whoever makes it (services, the admin, a
Celery task, the migration importer, raw SQL), and a trigger runs inside the writing
transaction, where the marker is safe to take.

What the marker is, and why a pull never misses a write:

- PostgreSQL: `sync_version` is the writing transaction's id (`pg_current_xact_id()`,
  64 bits, it never wraps). A pull first computes its cut-off: the lowest id of a
  transaction that may still commit in this database (the oldest open writer, from
  `pg_current_snapshot()` and `pg_stat_activity`), or the next id to be assigned when no
  writer is open. Every transaction below the cut-off has ended, so what it committed is
  visible to the pull's reads. The client keeps the cut-off as its `last_pulled_at`, and
  the next pull reads every row at or above it: a transaction that began before a pull
  and commits after it has an id at or above that pull's cut-off, so it reaches the next
  pull. A row may come twice (the client treats it as an update), never zero times.
  A timestamp taken in Python has no such guarantee: a transaction can take it, the pull
  can run past it, and the row commit later with an older time.
  Only this database's writers hold the cut-off back: other databases of the cluster
  (other tenants, test runs) share transaction ids but not these tables. The pulling
  session's own transaction counts too: had it written in it, its later writes there
  carry the same id, so the cut-off stays at or below that id (the snapshot itself
  leaves the session's own transaction out).
- SQLite (the embedded default) has one writer at a time: a plain counter in
  `sync_synccounter`, bumped by the triggers inside the write, is exact; the cut-off is
  the next value.

Tombstones: hard deletes (files, exercises replaced by an edit, a user's chat) and lost
access (a share withdrawn) insert `sync_synctombstone` rows for every user who could read
the row, with the same marker, so they reach the same pulls.
"""

import uuid
from dataclasses import dataclass

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# Tables whose rows carry `sync_version`.
STAMPED = (
    "food_foodlog",
    "workouts_workout",
    "workouts_exercise",
    "workouts_exerciseset",
    "workouts_workoutprogress",
    "storage_storedfile",
    "ai_assistant_aiconversation",
    "ai_assistant_chatmessage",
    "accounts_user",
)


@dataclass(frozen=True)
class Gone:
    """On `event` in `table` (a DELETE unless said otherwise, and only `when` the row's
    change matches): each query selects (user_id, table_name, row_id) of the tombstones
    to write, from the row `OLD` (or `NEW`, on INSERT). `name` tells apart the triggers
    one table may have."""

    table: str
    queries: tuple[str, ...]
    event: str = "DELETE"
    when: str = ""
    name: str = "sync_gone"


@dataclass(frozen=True)
class Touch:
    """On INSERT into `table` (a share): re-stamp the shared row, so it reaches the new
    reader's next pull (children of a workout follow their workout, see sync.tables).
    Other rules name the `event`, the rows to re-stamp (`where`) and the trigger."""

    table: str
    target: str
    column: str = ""
    event: str = "INSERT"
    where: str = ""
    name: str = "sync_touch"

    @property
    def condition(self) -> str:
        return self.where or f"id = NEW.{self.column}"


def _q(user: str, table: str, row: str, source: str = "") -> str:
    """One tombstone query: (user_id, table_name, row_id) from `source` (FROM ... WHERE)."""
    query = f"SELECT {user} AS user_id, '{table}' AS table_name, CAST({row} AS TEXT) AS row_id"
    return f"{query} FROM {source}" if source else query


def _workout_readers(table: str, workout_id: str, via: str = "") -> tuple[str, ...]:
    """The owner and the readers of the workout a deleted child row belonged to; `via`
    joins what leads from the row to its workout (FROM items, then WHERE conditions)."""
    tables, _, conditions = via.partition(" WHERE ")
    joins = f"{tables}, " if tables else ""
    extra = f"{conditions} AND " if conditions else ""
    return (
        _q(
            "w.owner_id",
            table,
            "OLD.id",
            f"{joins}workouts_workout w WHERE {extra}w.id = {workout_id}",
        ),
        _q(
            "s.user_id",
            table,
            "OLD.id",
            f"{joins}workouts_workoutshare s WHERE {extra}s.workout_id = {workout_id}",
        ),
    )


GONE = (
    Gone("food_foodlog", (_q("OLD.owner_id", "food_logs", "OLD.id"),)),
    Gone("food_foodlogshare", (_q("OLD.user_id", "food_logs", "OLD.food_log_id"),)),
    Gone("workouts_workout", (_q("OLD.owner_id", "workouts", "OLD.id"),)),
    # A withdrawn share: the reader loses the workout and everything under it.
    Gone(
        "workouts_workoutshare",
        (
            _q("OLD.user_id", "workouts", "OLD.workout_id"),
            _q(
                "OLD.user_id",
                "exercises",
                "e.id",
                "workouts_exercise e WHERE e.workout_id = OLD.workout_id",
            ),
            _q(
                "OLD.user_id",
                "set_logs",
                "x.id",
                "workouts_exerciseset x, workouts_exercise e "
                "WHERE x.exercise_id = e.id AND e.workout_id = OLD.workout_id",
            ),
            _q(
                "OLD.user_id",
                "workout_progress",
                "p.id",
                "workouts_workoutprogress p WHERE p.workout_id = OLD.workout_id",
            ),
        ),
    ),
    Gone("workouts_exercise", _workout_readers("exercises", "OLD.workout_id")),
    Gone(
        "workouts_exerciseset",
        _workout_readers(
            "set_logs", "e.workout_id", "workouts_exercise e WHERE e.id = OLD.exercise_id"
        ),
    ),
    Gone("workouts_workoutprogress", _workout_readers("workout_progress", "OLD.workout_id")),
    Gone("storage_storedfile", (_q("OLD.owner_id", "stored_files", "OLD.id"),)),
    Gone("ai_assistant_aiconversation", (_q("OLD.owner_id", "conversations", "OLD.id"),)),
    Gone(
        "ai_assistant_chatmessage",
        (
            _q(
                "c.owner_id",
                "chat_messages",
                "OLD.id",
                "ai_assistant_aiconversation c WHERE c.id = OLD.conversation_id",
            ),
        ),
    ),
)

# The social tables, read-only over sync; a member sees their groups' members and
# challenges, so a membership that ends (a delete: leaving, removal, the group deleted)
# takes all of them away from that member, and each row gone is news for every member.
SOCIAL_STAMPED = ("social_connection", "social_group", "social_groupmembership", "social_challenge")
_ACTIVE_MEMBERS = "social_groupmembership m WHERE m.status = 'active' AND m.group_id = "
SOCIAL_GONE = (
    Gone(
        "social_connection",
        (
            _q("OLD.requester_id", "connections", "OLD.id"),
            _q("OLD.addressee_id", "connections", "OLD.id"),
        ),
    ),
    Gone(
        "social_groupmembership",
        (
            _q("OLD.user_id", "groups", "OLD.group_id"),
            _q("OLD.user_id", "group_members", "OLD.id"),
            _q(
                "OLD.user_id",
                "group_members",
                "m.id",
                "social_groupmembership m WHERE m.group_id = OLD.group_id",
            ),
            _q(
                "OLD.user_id",
                "challenges",
                "c.id",
                "social_challenge c WHERE c.group_id = OLD.group_id",
            ),
            _q("m.user_id", "group_members", "OLD.id", _ACTIVE_MEMBERS + "OLD.group_id"),
        ),
    ),
    Gone(
        "social_challenge",
        (_q("m.user_id", "challenges", "OLD.id", _ACTIVE_MEMBERS + "OLD.group_id"),),
    ),
)

TOUCH = (
    Touch("food_foodlogshare", "food_foodlog", "food_log_id"),
    Touch("workouts_workoutshare", "workouts_workout", "workout_id"),
)


# --- workouts visible through a group (social.selectors.group_visible_workouts) ----------
# A member reads the workouts linked to a group while both they and the owner are active
# in it, the group is not hidden and neither has blocked the other. Whatever ends that
# leaves tombstones of the workout and everything under it for whoever lost it. Some go to
# members who still read the row another way (shared with them too) or never had it; the
# pull drops the tombstones of rows the user can still read (sync.selectors), and deleting
# an unknown id is a no-op for the client. Access that begins again needs no trigger: the
# pull sends a group's workouts again when the group or a membership of the viewer or the
# owner changed (sync.tables), and an unblock re-stamps both users' memberships.


def _workout_tree(user: str, source: str) -> tuple[str, ...]:
    """Tombstones of workouts `w` (from `source`: FROM items, then WHERE conditions) and
    of their exercises, sets and progress, for `user`."""
    tables, _, conditions = source.partition(" WHERE ")
    return (
        _q(user, "workouts", "w.id", source),
        _q(
            user,
            "exercises",
            "e.id",
            f"{tables}, workouts_exercise e WHERE {conditions} AND e.workout_id = w.id",
        ),
        _q(
            user,
            "set_logs",
            "x.id",
            f"{tables}, workouts_exercise e, workouts_exerciseset x "
            f"WHERE {conditions} AND e.workout_id = w.id AND x.exercise_id = e.id",
        ),
        _q(
            user,
            "workout_progress",
            "p.id",
            f"{tables}, workouts_workoutprogress p WHERE {conditions} AND p.workout_id = w.id",
        ),
    )


# Active members `m` of a group (the condition; `social_groupmembership m` is in FROM).
_MEMBER_OF = "m.status = 'active' AND m.group_id = "


def _group_readers(table: str, workout_id: str, via: str = "") -> str:
    """The group members who read the workout a deleted child row belonged to."""
    tables, _, conditions = via.partition(" WHERE ")
    joins = f"{tables}, " if tables else ""
    extra = f"{conditions} AND " if conditions else ""
    return _q(
        "m.user_id",
        table,
        "OLD.id",
        f"{joins}workouts_workout w, social_groupmembership m "
        f"WHERE {extra}w.id = {workout_id} AND {_MEMBER_OF}w.group_id AND m.user_id <> w.owner_id",
    )


GROUP_GONE = (
    # A membership that ends (leaving, removal, the group deleted): the member loses the
    # group's workouts, and the other members lose the member's.
    Gone(
        "social_groupmembership",
        (
            *_workout_tree(
                "OLD.user_id",
                "workouts_workout w WHERE OLD.status = 'active' "
                "AND w.group_id = OLD.group_id AND w.owner_id <> OLD.user_id",
            ),
            *_workout_tree(
                "m.user_id",
                "workouts_workout w, social_groupmembership m WHERE OLD.status = 'active' "
                f"AND {_MEMBER_OF}OLD.group_id AND w.group_id = OLD.group_id "
                "AND w.owner_id = OLD.user_id AND m.user_id <> OLD.user_id",
            ),
        ),
        name="sync_group_gone",
    ),
    # The owner unlinks the workout from its group (or moves it; delete_group unlinks all).
    Gone(
        "workouts_workout",
        _workout_tree(
            "m.user_id",
            "workouts_workout w, social_groupmembership m "
            f"WHERE {_MEMBER_OF}OLD.group_id AND w.id = OLD.id AND m.user_id <> OLD.owner_id",
        ),
        event="UPDATE",
        # Portable "IS DISTINCT FROM": PostgreSQL and SQLite alike.
        when="(OLD.group_id IS NULL) <> (NEW.group_id IS NULL) OR OLD.group_id <> NEW.group_id",
        name="sync_group_left",
    ),
    Gone(
        "social_group",
        _workout_tree(
            "m.user_id",
            "workouts_workout w, social_groupmembership m "
            f"WHERE {_MEMBER_OF}OLD.id AND w.group_id = OLD.id AND m.user_id <> w.owner_id",
        ),
        event="UPDATE",
        when="NEW.hidden AND NOT OLD.hidden",
        name="sync_group_hidden",
    ),
    # A block: each loses the other's workouts in the groups they share.
    Gone(
        "social_block",
        (
            *_workout_tree(
                "NEW.blocker_id",
                "workouts_workout w WHERE w.owner_id = NEW.blocked_id AND w.group_id IS NOT NULL",
            ),
            *_workout_tree(
                "NEW.blocked_id",
                "workouts_workout w WHERE w.owner_id = NEW.blocker_id AND w.group_id IS NOT NULL",
            ),
        ),
        event="INSERT",
        name="sync_group_blocked",
    ),
    Gone(
        "workouts_workout",
        (
            _q(
                "m.user_id",
                "workouts",
                "OLD.id",
                f"social_groupmembership m WHERE {_MEMBER_OF}OLD.group_id "
                "AND m.user_id <> OLD.owner_id",
            ),
        ),
        name="sync_group_gone",
    ),
    # Exercises replaced by an edit, and whatever goes with a workout.
    Gone(
        "workouts_exercise",
        (_group_readers("exercises", "OLD.workout_id"),),
        name="sync_group_gone",
    ),
    Gone(
        "workouts_exerciseset",
        (
            _group_readers(
                "set_logs", "e.workout_id", "workouts_exercise e WHERE e.id = OLD.exercise_id"
            ),
        ),
        name="sync_group_gone",
    ),
    Gone(
        "workouts_workoutprogress",
        (_group_readers("workout_progress", "OLD.workout_id"),),
        name="sync_group_gone",
    ),
)

GROUP_TOUCH = (
    Touch(
        "social_block",
        "social_groupmembership",
        event="DELETE",
        where="user_id IN (OLD.blocker_id, OLD.blocked_id)",
        name="sync_group_unblocked",
    ),
)

_TOMBSTONE_INSERT = (
    "INSERT INTO sync_synctombstone (user_id, table_name, row_id, sync_version, created_at) "
    "SELECT g.user_id, g.table_name, g.row_id, {version}, {now} FROM ({union}) AS g "
    "WHERE g.user_id IS NOT NULL;"
)


def _postgresql(stamped: tuple, gone: tuple, touches: tuple, *, stamp_function: bool) -> list[str]:
    version = "pg_current_xact_id()::text::bigint"
    sql = []
    if stamp_function:
        sql.append(
            "CREATE OR REPLACE FUNCTION sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN NEW.sync_version := {version}; RETURN NEW; END $$;"
        )
    for table in stamped:
        sql.append(
            f"CREATE TRIGGER sync_stamp BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sync_stamp();"
        )
    for rule in gone:
        insert = _TOMBSTONE_INSERT.format(
            version=version, now="now()", union=" UNION ALL ".join(rule.queries)
        )
        # An AFTER trigger's result is ignored.
        sql.append(
            f"CREATE OR REPLACE FUNCTION {rule.name}_{rule.table}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {insert} RETURN NULL; END $$;"
        )
        when = f"WHEN ({rule.when}) " if rule.when else ""
        sql.append(
            f"CREATE TRIGGER {rule.name} AFTER {rule.event} ON {rule.table} "
            f"FOR EACH ROW {when}EXECUTE FUNCTION {rule.name}_{rule.table}();"
        )
    for touch in touches:
        sql.append(
            f"CREATE OR REPLACE FUNCTION {touch.name}_{touch.table}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN UPDATE {touch.target} SET sync_version = 0 "
            f"WHERE {touch.condition}; RETURN NULL; END $$;"
        )
        sql.append(
            f"CREATE TRIGGER {touch.name} AFTER {touch.event} ON {touch.table} "
            f"FOR EACH ROW EXECUTE FUNCTION {touch.name}_{touch.table}();"
        )
    return sql


def _sqlite(stamped: tuple, gone: tuple, touches: tuple) -> list[str]:
    # Triggers do not fire themselves (recursive_triggers is off), so the stamping UPDATE
    # inside an AFTER UPDATE trigger does not loop; triggers of other tables still fire.
    bump = "UPDATE sync_synccounter SET value = value + 1;"
    version = "(SELECT value FROM sync_synccounter)"
    sql = []
    for table in stamped:
        for event in ("INSERT", "UPDATE"):
            sql.append(
                f"CREATE TRIGGER sync_stamp_{event.lower()}_{table} AFTER {event} ON {table} "
                f"BEGIN {bump} UPDATE {table} SET sync_version = {version} "
                "WHERE id = NEW.id; END;"
            )
    for rule in gone:
        insert = _TOMBSTONE_INSERT.format(
            version=version, now="CURRENT_TIMESTAMP", union=" UNION ALL ".join(rule.queries)
        )
        when = f"WHEN {rule.when} " if rule.when else ""
        sql.append(
            f"CREATE TRIGGER {rule.name}_{rule.table} AFTER {rule.event} ON {rule.table} "
            f"FOR EACH ROW {when}BEGIN {bump} {insert} END;"
        )
    for touch in touches:
        sql.append(
            f"CREATE TRIGGER {touch.name}_{touch.table} AFTER {touch.event} ON {touch.table} "
            f"BEGIN UPDATE {touch.target} SET sync_version = 0 WHERE {touch.condition}; END;"
        )
    return sql


def _drop_postgresql(stamped: tuple, gone: tuple, touches: tuple) -> list[str]:
    sql = [f"DROP TRIGGER IF EXISTS sync_stamp ON {table};" for table in stamped]
    for rule in gone:
        sql.append(f"DROP TRIGGER IF EXISTS {rule.name} ON {rule.table};")
        sql.append(f"DROP FUNCTION IF EXISTS {rule.name}_{rule.table}();")
    for rule in touches:
        sql.append(f"DROP TRIGGER IF EXISTS {rule.name} ON {rule.table};")
        sql.append(f"DROP FUNCTION IF EXISTS {rule.name}_{rule.table}();")
    return sql


def _drop_sqlite(stamped: tuple, gone: tuple, touches: tuple) -> list[str]:
    names = [f"sync_stamp_{e}_{t}" for t in stamped for e in ("insert", "update")]
    names += [f"{rule.name}_{rule.table}" for rule in gone]
    names += [f"{rule.name}_{rule.table}" for rule in touches]
    return [f"DROP TRIGGER IF EXISTS {name};" for name in names]


def install_triggers(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        sql = _postgresql(STAMPED, GONE, TOUCH, stamp_function=True)
    else:
        sql = _sqlite(STAMPED, GONE, TOUCH)
    for statement in sql:
        schema_editor.execute(statement)
    apps.get_model("sync", "SyncCounter").objects.get_or_create(pk=1)


def drop_triggers(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    drop = _drop_postgresql if vendor == "postgresql" else _drop_sqlite
    for statement in drop(STAMPED, GONE, TOUCH):
        schema_editor.execute(statement)
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS sync_stamp();")


def install_social_triggers(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        sql = _postgresql(SOCIAL_STAMPED, SOCIAL_GONE, (), stamp_function=False)
    else:
        sql = _sqlite(SOCIAL_STAMPED, SOCIAL_GONE, ())
    for statement in sql:
        schema_editor.execute(statement)


def drop_social_triggers(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    drop = _drop_postgresql if vendor == "postgresql" else _drop_sqlite
    for statement in drop(SOCIAL_STAMPED, SOCIAL_GONE, ()):
        schema_editor.execute(statement)


def write_tombstones(*, user_ids: list, table: str, row_ids: list[str]) -> None:
    """Tombstones for rows no trigger saw go: ids a client holds that the server never
    stored under them (sync.services), under the marker the triggers would use."""
    if not row_ids or not user_ids:
        return
    connection = connections["default"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            version, now = "pg_current_xact_id()::text::bigint", "now()"
        else:
            cursor.execute("UPDATE sync_synccounter SET value = value + 1")
            version, now = "(SELECT value FROM sync_synccounter)", "CURRENT_TIMESTAMP"
        cursor.executemany(
            "INSERT INTO sync_synctombstone (user_id, table_name, row_id, sync_version, "
            f"created_at) VALUES (%s, %s, %s, {version}, {now})",
            [(_db_uuid(connection, user), table, row) for user in user_ids for row in row_ids],
        )


def _db_uuid(connection: BaseDatabaseWrapper, value) -> str:
    return str(value) if connection.vendor == "postgresql" else uuid.UUID(str(value)).hex


def install_group_triggers(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        sql = _postgresql((), GROUP_GONE, GROUP_TOUCH, stamp_function=False)
    else:
        sql = _sqlite((), GROUP_GONE, GROUP_TOUCH)
    for statement in sql:
        schema_editor.execute(statement)


def drop_group_triggers(apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    drop = _drop_postgresql if vendor == "postgresql" else _drop_sqlite
    for statement in drop((), GROUP_GONE, GROUP_TOUCH):
        schema_editor.execute(statement)


# The snapshot leaves out the pulling session's own transaction, while its xmax follows
# every transaction of the cluster: once another database's transaction ends, xmax passes
# an id this session holds, so that id is taken in explicitly (a no-op unless the session
# wrote in the pull's transaction, as a test does; LEAST ignores its NULL otherwise).
_PG_CUTOFF = """
SELECT LEAST(
    pg_snapshot_xmax(snap.s)::text::bigint,
    pg_current_xact_id_if_assigned()::text::bigint,
    (SELECT min(xip::text::bigint) FROM pg_snapshot_xip(snap.s) AS xip
     WHERE xip::text::bigint % 4294967296 IN (
         SELECT backend_xid::text::bigint FROM pg_stat_activity
         WHERE datname = current_database() AND backend_xid IS NOT NULL)))
FROM (SELECT pg_current_snapshot() AS s) AS snap
"""


def pull_cutoff(connection: BaseDatabaseWrapper) -> int:
    """The cut-off of a pull starting now: every marker below it belongs to a write that
    has ended (see the module docstring). Call it before reading any row."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # pg_stat_activity is cached per transaction; the pull must see it as it is now.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(_PG_CUTOFF)
        else:
            cursor.execute("SELECT value + 1 FROM sync_synccounter")
        return int(cursor.fetchone()[0])
