"""The benchmarks' baseline for `GET /api/v1/sync`: the pull as a minimal raw ASGI app.

It extends bench/raw_lists.py (the same authentication, Redis record, psycopg 3 pool and
orjson; the list routes still answer) with WatermelonDB's pull as sync.selectors and
sync.tables compute it: the cut-off from the same snapshot SQL, the tombstone horizon, each
table's readable rows changed since `last_pulled_at` (the workouts' rule of
social.selectors.group_visible_workouts included), tombstones weeded of ids that are sent
alive or still readable, the same bytes out, gzipped when the client accepts it and sent
one table at a time. A table's rows are read at once, not in chunks of 1,000: the
benchmark's user is small enough. `bench/sync_pull.py --baseline` starts it beside the
server and checks that both answer the same body.

    BASELINE_DATABASE_URL=... BASELINE_REDIS_URL=... BASELINE_JWT_KEY=... \
        BASELINE_CACHE_PREFIX=ff .venv/bin/uvicorn bench.raw_sync:app --port 8001

Not served (the benchmark's user has none, and `sync_pull.py`'s byte check would show
it): signed URLs of stored files and of food logs' linked photos, and `migration`.
"""

import json
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qsl

import orjson

from bench.raw_lists import _MASS_TO_KG, Baseline

# sync.database._PG_CUTOFF, which the baseline cannot import (it never imports Django).
CUTOFF_SQL = """
SELECT LEAST(
    pg_snapshot_xmax(snap.s)::text::bigint,
    pg_current_xact_id_if_assigned()::text::bigint,
    (SELECT min(xip::text::bigint) FROM pg_snapshot_xip(snap.s) AS xip
     WHERE xip::text::bigint % 4294967296 IN (
         SELECT backend_xid::text::bigint FROM pg_stat_activity
         WHERE datname = current_database() AND backend_xid IS NOT NULL)))
FROM (SELECT pg_current_snapshot() AS s) AS snap
"""

TOMBSTONES_SQL = """
SELECT table_name, row_id FROM sync_synctombstone
WHERE user_id = %(user)s AND sync_version >= %(since)s
"""

VISIBLE_WORKOUT = """(
    w.owner_id = %(user)s
    OR EXISTS (SELECT 1 FROM workouts_workoutshare s
               WHERE s.workout_id = w.id AND s.user_id = %(user)s)
    OR (w.group_id IN (SELECT m.group_id FROM social_groupmembership m
                       JOIN social_group g ON g.id = m.group_id
                       WHERE m.user_id = %(user)s AND m.status = 'active' AND NOT g.hidden)
        AND EXISTS (SELECT 1 FROM social_groupmembership m WHERE m.group_id = w.group_id
                    AND m.user_id = w.owner_id AND m.status = 'active')
        AND NOT EXISTS (SELECT 1 FROM social_block b
                        WHERE (b.blocker_id = %(user)s AND b.blocked_id = w.owner_id)
                           OR (b.blocked_id = %(user)s AND b.blocker_id = w.owner_id))))"""

# Since a cut-off: written since, or readable through a group since (sync.tables._workouts).
WORKOUT_RESENT = """(
    w.sync_version >= %(since)s
    OR (SELECT g.sync_version FROM social_group g WHERE g.id = w.group_id) >= %(since)s
    OR (w.group_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM social_groupmembership m WHERE m.group_id = w.group_id
                    AND (m.user_id = %(user)s OR m.user_id = w.owner_id)
                    AND m.sync_version >= %(since)s)))"""

LIVE_WORKOUTS = (
    f"SELECT w.id FROM workouts_workout w WHERE {VISIBLE_WORKOUT} AND w.deleted_at IS NULL"
)
RESENT_WORKOUTS = (
    f"SELECT w.id FROM workouts_workout w WHERE {VISIBLE_WORKOUT} AND {WORKOUT_RESENT}"
)

MY_GROUPS = (
    "SELECT m.group_id FROM social_groupmembership m "
    "WHERE m.user_id = %(user)s AND m.status = 'active'"
)


def _joined_since(group: str) -> str:
    return (
        f"(SELECT m.sync_version FROM social_groupmembership m WHERE m.user_id = %(user)s "
        f"AND m.status = 'active' AND m.group_id = {group} LIMIT 1) >= %(since)s"
    )


def _children(alias: str, workout: str) -> tuple[str, str]:
    """Rows under the user's live workouts; since a cut-off, those written since, and all
    of those under a workout resent (tombstoned ones too)."""
    return (
        f"{workout} IN ({LIVE_WORKOUTS})",
        f"({workout} IN ({LIVE_WORKOUTS}) AND {alias}.sync_version >= %(since)s) "
        f"OR {workout} IN ({RESENT_WORKOUTS})",
    )


def epoch_ms(value: datetime | date | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _weight(kg: Decimal | None, unit: str) -> float | None:
    return None if kg is None else float(round(Decimal(kg) / _MASS_TO_KG[unit], 2))


def _id(value) -> str | None:
    return None if value is None else str(value)


def _readers(owner, readers: list, viewer: str) -> str:
    if str(owner) != viewer:
        readers = [reader for reader in readers if str(reader) == viewer]
    return _json([str(reader) for reader in readers])


@dataclass(frozen=True)
class Table:
    """Column 0 says whether the row goes to `deleted`, column 1 is its id."""

    name: str
    columns: str
    source: str
    first: str
    since: str
    render: Callable[[tuple, str], dict]
    key: type = uuid.UUID

    def rows_sql(self, since: bool) -> str:
        where = self.since if since else self.first
        return f"SELECT {self.columns} FROM {self.source} WHERE ({where}) ORDER BY 2"

    def readable_sql(self) -> str:
        key = f"{self.source.split()[1]}.id"
        return f"SELECT {key} FROM {self.source} WHERE ({self.first}) AND {key} = ANY(%(ids)s)"


def _food_log(r: tuple, viewer: str) -> dict:
    if r[12] is not None:
        raise NotImplementedError("a linked photo needs a signed URL")
    return {
        "id": str(r[1]),
        "owner_id": str(r[2]),
        "name": r[3],
        "calories": r[4],
        "protein": _number(r[5]),
        "carbs": _number(r[6]),
        "fat": _number(r[7]),
        "fiber": _number(r[8]),
        "sugar": _number(r[9]),
        "timestamp": epoch_ms(r[10]),
        "meal_type": r[11],
        "tags": _json(r[18]),
        "image_id": None,
        "image_url": r[13] or None,
        "ai_analysis": _json(r[14]),
        "metadata": _json(r[15]),
        "shared_with": _readers(r[2], r[19], viewer),
        "created_at": epoch_ms(r[16]),
        "updated_at": epoch_ms(r[17]),
    }


def _workout(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "owner_id": str(r[2]),
        "name": r[3],
        "type": r[4],
        "duration": r[5],
        "calories_burned": r[6],
        "calories_estimated": r[7] is not None,
        "completed": r[8],
        "completed_at": epoch_ms(r[9]),
        "notes": r[10],
        "group_id": _id(r[11]),
        "volume_kg": _number(r[12]),
        "ai_form_check": _json(r[13]),
        "shared_with": _readers(r[2], r[16], viewer),
        "progress_photo_ids": _json([str(file_id) for file_id in r[17]]),
        "created_at": epoch_ms(r[14]),
        "updated_at": epoch_ms(r[15]),
    }


def _exercise(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "workout_id": str(r[2]),
        "position": r[3],
        "name": r[4],
        "sets": r[5],
        "reps": r[6],
        "weight": _weight(r[7], r[8]),
        "weight_unit": r[8] or None,
        "duration": r[9],
        "distance": _number(r[10]),
        "completed": r[11],
        "notes": r[12],
        "volume_kg": _number(r[13]),
    }


def _set_log(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "exercise_id": str(r[2]),
        "position": r[3],
        "reps": r[4],
        "weight": _weight(r[5], r[6]),
        "weight_unit": r[6] or None,
        "rpe": _number(r[7]),
        "completed": r[8],
    }


def _progress(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "workout_id": str(r[2]),
        "timestamp": epoch_ms(r[3]),
        "completed_exercises": r[4],
        "total_exercises": r[5],
        "duration": r[6],
        "calories_burned": r[7],
        "calories_estimated": r[8],
        "marked": _json(r[9]),
        "created_at": epoch_ms(r[10]),
    }


def _stored_file(r: tuple, viewer: str) -> dict:
    raise NotImplementedError("a stored file needs signed URLs")


def _conversation(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "session_id": str(r[2]),
        "context": _json(r[3]),
        "created_at": epoch_ms(r[4]),
        "updated_at": epoch_ms(r[5]),
    }


def _chat_message(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "conversation_id": str(r[2]),
        "role": r[3],
        "content": r[4],
        "timestamp": epoch_ms(r[5]),
        "interrupted": r[6],
    }


def _profile(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "email": r[2],
        "name": r[3],
        "display_name": r[4],
        "birthday": epoch_ms(r[5]),
        "gender": r[6],
        "height_cm": _number(r[7]),
        "weight_kg": _number(r[8]),
        "target_weight_kg": _number(r[9]),
        "fitness_goal": r[10],
        "preferences": _json(r[11]),
        "updated_at": epoch_ms(r[12]),
    }


def _settings(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "theme_mode": r[13],
        "notifications_enabled": r[14],
        "measurement_system": r[15],
        "language": r[16],
        "timezone": r[17],
        "privacy_settings": _json(r[18]),
    }


def _connection(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "requester_id": str(r[2]),
        "addressee_id": str(r[3]),
        "status": r[4],
        "created_at": epoch_ms(r[5]),
        "accepted_at": epoch_ms(r[6]),
    }


def _group(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "name": r[2],
        "description": r[3],
        "created_by_id": _id(r[4]),
        "settings": _json(r[5]),
        "created_at": epoch_ms(r[6]),
        "updated_at": epoch_ms(r[7]),
    }


def _group_member(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "group_id": str(r[2]),
        "user_id": str(r[3]),
        "role": r[4],
        "status": r[5],
        "joined_at": epoch_ms(r[6]),
    }


def _challenge(r: tuple, viewer: str) -> dict:
    return {
        "id": str(r[1]),
        "group_id": str(r[2]),
        "name": r[3],
        "description": r[4],
        "type": r[5],
        "goals": _json(r[6]),
        "timezone": r[7],
        "start_date": epoch_ms(r[8]),
        "end_date": epoch_ms(r[9]),
        "finalized_at": epoch_ms(r[10]),
        "created_at": epoch_ms(r[11]),
        "updated_at": epoch_ms(r[12]),
    }


_FOOD_VISIBLE = (
    "(l.owner_id = %(user)s OR EXISTS (SELECT 1 FROM food_foodlogshare s "
    "WHERE s.food_log_id = l.id AND s.user_id = %(user)s))"
)
_EXERCISES = _children("e", "e.workout_id")
_SETS = _children("x", "e.workout_id")
_PROGRESS = _children("p", "p.workout_id")
_USER_COLUMNS = (
    "false, u.id, u.email, u.name, u.display_name, u.birthday, u.gender, u.height_cm, "
    "u.weight_kg, u.target_weight_kg, u.fitness_goal, u.preferences, u.updated_at, "
    "u.theme_mode, u.notifications_enabled, u.measurement_system, u.language, u.timezone, "
    "u.privacy_settings"
)


def _user_table(name: str, render: Callable[[tuple, str], dict]) -> Table:
    return Table(
        name,
        _USER_COLUMNS,
        "accounts_user u",
        "u.id = %(user)s",
        "u.id = %(user)s AND u.sync_version >= %(since)s",
        render,
    )


def _group_table(
    name: str,
    columns: str,
    source: str,
    group: str,
    render: Callable[[tuple, str], dict],
    extra: str = "true",
    key: type = uuid.UUID,
) -> Table:
    """sync.tables._in_my_groups: a membership active since the cut-off brings its group's
    rows in full."""
    alias = source.split()[1]
    mine = f"{group} IN ({MY_GROUPS}) AND {extra}"
    changed = f"({alias}.sync_version >= %(since)s OR {_joined_since(group)})"
    return Table(name, columns, source, mine, f"{mine} AND {changed}", render, key)


# In sync.tables.TABLES' order, which is the body's.
TABLES = (
    Table(
        "food_logs",
        "l.deleted_at IS NOT NULL, l.id, l.owner_id, l.name, l.calories, l.protein, l.carbs, "
        "l.fat, l.fiber, l.sugar, l.timestamp, l.meal_type, l.image_id, l.image_url, "
        "l.ai_analysis, l.metadata, l.created_at, l.updated_at, "
        "ARRAY(SELECT t.name FROM food_foodlogtag t WHERE t.food_log_id = l.id ORDER BY t.id), "
        "ARRAY(SELECT s.user_id FROM food_foodlogshare s WHERE s.food_log_id = l.id "
        "ORDER BY s.id)",
        "food_foodlog l",
        f"{_FOOD_VISIBLE} AND l.deleted_at IS NULL",
        f"{_FOOD_VISIBLE} AND l.sync_version >= %(since)s",
        _food_log,
    ),
    Table(
        "workouts",
        "w.deleted_at IS NOT NULL, w.id, w.owner_id, w.name, w.type, w.duration, "
        "w.calories_burned, w.calories_estimate, w.completed, w.completed_at, w.notes, "
        "w.group_id, w.volume_kg, w.ai_form_check, w.created_at, w.updated_at, "
        "ARRAY(SELECT s.user_id FROM workouts_workoutshare s WHERE s.workout_id = w.id "
        "ORDER BY s.id), "
        "ARRAY(SELECT p.file_id FROM workouts_workoutphoto p WHERE p.workout_id = w.id "
        "ORDER BY p.position)",
        "workouts_workout w",
        f"{VISIBLE_WORKOUT} AND w.deleted_at IS NULL",
        f"{VISIBLE_WORKOUT} AND {WORKOUT_RESENT}",
        _workout,
    ),
    Table(
        "exercises",
        "w.deleted_at IS NOT NULL, e.id, e.workout_id, e.position, e.name, e.sets, e.reps, "
        "e.weight_kg, e.weight_unit, e.duration, e.distance, e.completed, e.notes, e.volume_kg",
        "workouts_exercise e JOIN workouts_workout w ON w.id = e.workout_id",
        *_EXERCISES,
        _exercise,
    ),
    Table(
        "set_logs",
        "w.deleted_at IS NOT NULL, x.id, x.exercise_id, x.position, x.reps, x.weight_kg, "
        "x.weight_unit, x.rpe, x.completed",
        "workouts_exerciseset x JOIN workouts_exercise e ON e.id = x.exercise_id "
        "JOIN workouts_workout w ON w.id = e.workout_id",
        *_SETS,
        _set_log,
        int,
    ),
    Table(
        "workout_progress",
        "w.deleted_at IS NOT NULL, p.id, p.workout_id, p.timestamp, p.completed_exercises, "
        "p.total_exercises, p.duration, p.calories_burned, p.calories_estimated, p.marked, "
        "p.created_at",
        "workouts_workoutprogress p JOIN workouts_workout w ON w.id = p.workout_id",
        *_PROGRESS,
        _progress,
    ),
    Table(
        "stored_files",
        "f.expiry IS NOT NULL AND f.expiry <= now(), f.id",
        "storage_storedfile f",
        "f.owner_id = %(user)s AND (f.expiry IS NULL OR f.expiry > now())",
        "f.owner_id = %(user)s AND f.sync_version >= %(since)s",
        _stored_file,
    ),
    Table(
        "conversations",
        "false, c.id, c.session_id, c.context, c.created_at, c.updated_at",
        "ai_assistant_aiconversation c",
        "c.owner_id = %(user)s",
        "c.owner_id = %(user)s AND c.sync_version >= %(since)s",
        _conversation,
    ),
    Table(
        "chat_messages",
        "false, m.id, m.conversation_id, m.role, m.content, m.timestamp, m.interrupted",
        "ai_assistant_chatmessage m JOIN ai_assistant_aiconversation c ON c.id = m.conversation_id",
        "c.owner_id = %(user)s",
        "c.owner_id = %(user)s AND m.sync_version >= %(since)s",
        _chat_message,
    ),
    _user_table("profile", _profile),
    _user_table("settings", _settings),
    Table(
        "connections",
        "false, c.id, c.requester_id, c.addressee_id, c.status, c.created_at, c.accepted_at",
        "social_connection c",
        "(c.requester_id = %(user)s OR c.addressee_id = %(user)s)",
        "(c.requester_id = %(user)s OR c.addressee_id = %(user)s) AND c.sync_version >= %(since)s",
        _connection,
    ),
    _group_table(
        "groups",
        "false, g.id, g.name, g.description, g.created_by_id, g.settings, g.created_at, "
        "g.updated_at",
        "social_group g",
        "g.id",
        _group,
    ),
    _group_table(
        "group_members",
        "false, gm.id, gm.group_id, gm.user_id, gm.role, gm.status, gm.joined_at",
        "social_groupmembership gm",
        "gm.group_id",
        _group_member,
        "(gm.status = 'active' OR gm.user_id = %(user)s)",
        int,
    ),
    _group_table(
        "challenges",
        "false, ch.id, ch.group_id, ch.name, ch.description, ch.type, ch.goals, ch.timezone, "
        "ch.start_date, ch.end_date, ch.finalized_at, ch.created_at, ch.updated_at",
        "social_challenge ch",
        "ch.group_id",
        _challenge,
    ),
)
ROWS_SQL = {(t.name, since): t.rows_sql(since) for t in TABLES for since in (False, True)}


def _normalized(table: Table, raw: str) -> str:
    """sync.tables.normalized_id: SQLite stores UUIDs without dashes."""
    if table.key is uuid.UUID:
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            return raw
    return raw


def _holds(table: Table, raw: str) -> bool:
    try:
        table.key(raw)
    except ValueError:
        return False
    return True


class SyncBaseline(Baseline):
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/api/v1/sync":
            await super().__call__(scope, receive, send)
            return
        user_id = await self._user(scope)
        if user_id is None:
            body = b'{"error":{"code":"token_not_valid"}}'
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        raw = query.get("last_pulled_at", "")
        since = None if raw in ("", "null") else int(raw)
        compress = b"gzip" in dict(scope["headers"]).get(b"accept-encoding", b"")
        headers = [(b"content-type", b"application/json"), (b"vary", b"Accept-Encoding")]
        if compress:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # Django's compress_sequence: level 6, mtime 0, out whenever zlib has output.
        gzip = zlib.compressobj(6, zlib.DEFLATED, 31) if compress else None
        async for piece in self._pull(user_id, since):
            if gzip:
                piece = gzip.compress(piece)
            if piece:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": gzip.flush() if gzip else b""})

    async def _pull(self, user_id: str, since: int | None) -> AsyncIterator[bytes]:
        async with self.pool.connection() as connection:
            # pg_stat_activity is cached per transaction; the cut-off must see it as it is now.
            await connection.execute("SELECT pg_stat_clear_snapshot()")
            timestamp = (await (await connection.execute(CUTOFF_SQL)).fetchone())[0]
            cursor = await connection.execute(
                "SELECT pruned_through FROM sync_synchorizon WHERE id = 1"
            )
            horizon = await cursor.fetchone()
            replace = bool(since) and since <= ((horizon and horizon[0]) or 0)
            cutoff = None if replace else since
            gone: dict[str, list[str]] = {}
            if cutoff:
                cursor = await connection.execute(
                    TOMBSTONES_SQL, {"user": user_id, "since": cutoff}
                )
                for name, row_id in await cursor.fetchall():
                    gone.setdefault(name, []).append(row_id)
            params = {"user": user_id, "since": cutoff}
            yield b'{"changes":{'
            for index, table in enumerate(TABLES):
                cursor = await connection.execute(ROWS_SQL[table.name, bool(cutoff)], params)
                rows = await cursor.fetchall()
                live = [table.render(row, user_id) for row in rows if not row[0]]
                deleted = [str(row[1]) for row in rows if row[0]]
                if cutoff and table.name in gone:
                    known = {record["id"] for record in live} | set(deleted)
                    deleted += await self._tombstones(
                        connection, table, gone[table.name], known, params
                    )
                records = b",".join(orjson.dumps(record) for record in live)
                opening = b'{"created":[' if not since else b'{"created":[],"updated":['
                closing = b'],"updated":[],' if not since else b"],"
                yield b"".join(
                    (
                        b"," if index else b"",
                        b'"' + table.name.encode() + b'":',
                        opening,
                        records,
                        closing,
                        b'"deleted":' + json.dumps(deleted).encode() + b"}",
                    )
                )
            strategy = b',"experimentalStrategy":"replacement"' if replace else b""
            yield b'},"timestamp":' + str(timestamp).encode() + strategy + b"}"

    async def _tombstones(self, connection, table: Table, raw: list[str], known: set[str], params):
        gone = [
            row_id
            for row_id in dict.fromkeys(_normalized(table, value) for value in raw)
            if row_id not in known
        ]
        keys = [table.key(row_id) for row_id in gone if _holds(table, row_id)]
        if not keys:
            return gone
        cursor = await connection.execute(table.readable_sql(), {**params, "ids": keys})
        readable = {str(row[0]) for row in await cursor.fetchall()}
        return [row_id for row_id in gone if row_id not in readable]


app = SyncBaseline()
