"""The benchmarks' baseline: the list endpoints as a minimal raw ASGI app, no Django.

It does what a request to the project must do, by hand, with the fastest plain parts:
PyJWT with SimpleJWT's claim checks (signature, `exp`, `token_type`, `jti`), the same
Redis GET of the per-user auth record (django-redis' key and pickle) with the same
acceptance rule, the record read from the database and added back on a miss as the server
does (it expires after AUTH_STATE_CACHE_SECONDS, mid-run too), the same SQL (the `total`
from the maintained count, fitness.live_counts) through a psycopg 3 async pool, and the
same bytes out (orjson). `bench/food_logs.py --baseline` and `bench/workouts.py --baseline`
start it beside the server and check, byte for byte, that both answer the same body.

    BASELINE_DATABASE_URL=... BASELINE_REDIS_URL=... BASELINE_JWT_KEY=... \
        BASELINE_CACHE_PREFIX=ff BASELINE_AUTH_TTL=300 BASELINE_ACCESS_SECONDS=900 \
        .venv/bin/uvicorn bench.raw_lists:app --port 8001

Only what the benchmarks request is served: `GET /api/v1/food/logs` and
`GET /api/v1/workouts` with `page` and `page_size`.
"""

import os
import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import jwt
import orjson
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

_JSON = [(b"content-type", b"application/json")]
_MASS_TO_KG = {"kg": Decimal("1"), "g": Decimal("0.001"), "lb": Decimal("0.45359237")}

FOOD_PAGE_SQL = """
SELECT l.id, l.owner_id, l.name, l.calories, l.protein, l.carbs, l.fat, l.fiber, l.sugar,
       l.timestamp, l.meal_type, l.image_id, l.image_url, l.ai_analysis, l.metadata,
       l.created_at, l.updated_at,
       ARRAY(SELECT t.name FROM food_foodlogtag t WHERE t.food_log_id = l.id ORDER BY t.id),
       ARRAY(SELECT s.user_id FROM food_foodlogshare s WHERE s.food_log_id = l.id),
       COALESCE((SELECT c.food_logs FROM fitness_liverowcount c WHERE c.user_id = %(user)s), 0)
FROM food_foodlog l
WHERE l.owner_id = %(user)s AND l.deleted_at IS NULL
ORDER BY l.timestamp DESC, l.id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""

WORKOUT_PAGE_SQL = """
SELECT w.id, w.owner_id, w.name, w.type, w.duration, w.calories_burned, w.calories_estimate,
       w.completed, w.completed_at, w.notes, w.created_at, w.updated_at, w.ai_form_check,
       w.group_id,
       ARRAY(SELECT s.user_id FROM workouts_workoutshare s WHERE s.workout_id = w.id
             ORDER BY s.created_at, s.id),
       ARRAY(SELECT p.file_id FROM workouts_workoutphoto p WHERE p.workout_id = w.id
             ORDER BY p.position),
       COALESCE((SELECT c.workouts FROM fitness_liverowcount c WHERE c.user_id = %(user)s), 0)
FROM workouts_workout w
WHERE w.owner_id = %(user)s AND w.deleted_at IS NULL
ORDER BY w.created_at DESC, w.id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""

EXERCISES_SQL = """
SELECT e.id, e.workout_id, e.name, e.sets, e.reps, e.weight_kg, e.weight_unit, e.duration,
       e.distance, e.completed, e.notes
FROM workouts_exercise e
WHERE e.workout_id = ANY(%(ids)s)
ORDER BY e.workout_id, e.position
"""

SETS_SQL = """
SELECT s.exercise_id, s.reps, s.weight_kg, s.weight_unit, s.rpe, s.completed
FROM workouts_exerciseset s
WHERE s.exercise_id = ANY(%(ids)s)
ORDER BY s.exercise_id, s.position
"""


def _time(value: datetime | None) -> datetime | None:
    # orjson writes the time itself (OPT_UTC_Z), as the project's lists do too.
    return None if value is None else value.astimezone(UTC)


def _grams(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _mass(kg, unit: str) -> dict | None:
    if kg is None:
        return None
    return {"value": float(round(Decimal(kg) / _MASS_TO_KG[unit], 2)), "unit": unit}


def _food(row: tuple, viewer: str) -> dict:
    owner = str(row[1])
    readers = [str(reader) for reader in row[18]]
    if viewer != owner:
        readers = [reader for reader in readers if reader == viewer]
    return {
        "id": str(row[0]),
        "user_id": owner,
        "name": row[2],
        "calories": row[3],
        "protein": _grams(row[4]),
        "carbs": _grams(row[5]),
        "fat": _grams(row[6]),
        "fiber": _grams(row[7]),
        "sugar": _grams(row[8]),
        "timestamp": _time(row[9]),
        "meal_type": row[10],
        "tags": row[17],
        "image_id": None if row[11] is None else str(row[11]),
        # The benchmark's logs have no linked photo (that would add a signed URL).
        "image_url": row[12] or None,
        "ai_analysis": row[13],
        "metadata": row[14],
        "shared_with": readers,
        "created_at": _time(row[15]),
        "updated_at": _time(row[16]),
    }


def _set(row: tuple) -> dict:
    return {
        "reps": row[1],
        "weight": _mass(row[2], row[3]),
        "rpe": None if row[4] is None else float(row[4]),
        "completed": row[5],
    }


def _exercise(row: tuple, sets: list[dict]) -> dict:
    return {
        "id": str(row[0]),
        "name": row[2],
        "sets": row[3],
        "reps": row[4],
        "weight": _mass(row[5], row[6]),
        "duration": row[7],
        "distance": None if row[8] is None else float(row[8]),
        "completed": row[9],
        "notes": row[10],
        "set_logs": sets,
    }


def _estimate(stored: dict | None) -> dict | None:
    # As the API renders it: its serializer's field order (jsonb keeps its own).
    if stored is None:
        return None
    names = ("method", "met", "body_weight_kg", "body_weight_assumed")
    return {name: stored[name] for name in names if name in stored}


def _workout(row: tuple, exercises: list[dict], viewer: str) -> dict:
    owner = str(row[1])
    readers = [str(reader) for reader in row[14]]
    if viewer != owner:
        readers = [reader for reader in readers if reader == viewer]
    return {
        "id": str(row[0]),
        "user_id": owner,
        "name": row[2],
        "type": row[3],
        "duration": row[4],
        "calories_burned": row[5],
        "calories_estimated": row[6] is not None,
        "calories_estimate": _estimate(row[6]),
        "completed": row[7],
        "completed_at": _time(row[8]),
        "notes": row[9],
        "created_at": _time(row[10]),
        "updated_at": _time(row[11]),
        "exercises": exercises,
        # The benchmark's workouts have no photos (those would add signed URLs).
        "progress_photos": [],
        "progress_photo_ids": [str(file_id) for file_id in row[15]],
        "ai_form_check": row[12],
        "shared_with": readers,
        "group_id": None if row[13] is None else str(row[13]),
        "owner": None,
    }


class Baseline:
    def __init__(self) -> None:
        self.key = os.environ["BASELINE_JWT_KEY"]
        self.prefix = os.environ.get("BASELINE_CACHE_PREFIX", "ff")
        self.pool = AsyncConnectionPool(
            os.environ["BASELINE_DATABASE_URL"], min_size=2, max_size=10, open=False
        )
        self.redis = aioredis.from_url(os.environ["BASELINE_REDIS_URL"])
        self.auth_ttl = int(os.environ.get("BASELINE_AUTH_TTL", "300"))
        access_seconds = int(os.environ.get("BASELINE_ACCESS_SECONDS", "900"))
        self.access_lifetime = timedelta(seconds=access_seconds)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        status, body = await self._handle(scope)
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.pool.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.pool.close()
                await self.redis.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _user(self, scope) -> str | None:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, raw = header.decode("latin-1").partition(" ")
        if scheme != "Bearer" or not raw:
            return None
        try:
            claims = jwt.decode(raw, self.key, algorithms=["HS256"], options={"require": ["exp"]})
        except jwt.InvalidTokenError:
            return None
        if claims.get("token_type") != "access" or "jti" not in claims:
            return None
        user_id = claims.get("user_id")
        key = f"{self.prefix}:1:auth:state:{user_id}"
        record = await self.redis.get(key)
        if record is None:
            state = await self._load_state(user_id)
            # SET NX, as django-redis' add(): never over a record a writer has just refilled.
            await self.redis.set(key, pickle.dumps(state), nx=True, ex=self.auth_ttl)
        else:
            state = pickle.loads(record)
        accepted = (
            state["active"]
            and claims.get("ver") == state["ver"]
            and claims.get("fam") is not None
            and claims["fam"] not in state["fams"]
        )
        return user_id if accepted else None

    async def _load_state(self, user_id: str) -> dict:
        """The auth record as `accounts.tokens` builds it from the database."""
        async with self.pool.connection() as connection:
            cursor = await connection.execute(
                "SELECT is_active, token_version FROM accounts_user WHERE id = %s", (user_id,)
            )
            row = await cursor.fetchone()
            if row is None:
                return {"active": False, "ver": -1, "fams": []}
            cursor = await connection.execute(
                "SELECT id FROM accounts_tokenfamily WHERE user_id = %s AND revoked_at >= %s",
                (user_id, datetime.now(UTC) - self.access_lifetime),
            )
            families = [str(family) for (family,) in await cursor.fetchall()]
        return {"active": row[0], "ver": row[1], "fams": families}

    async def _handle(self, scope) -> tuple[int, bytes]:
        user_id = await self._user(scope)
        if user_id is None:
            return 401, b'{"error":{"code":"token_not_valid"}}'
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        page = int(query.get("page", 1))
        size = min(int(query.get("page_size", 20)), 100)
        params = {"user": user_id, "limit": size + 1, "offset": (page - 1) * size}
        async with self.pool.connection() as connection:
            if scope["path"] == "/api/v1/food/logs":
                rows = await (await connection.execute(FOOD_PAGE_SQL, params)).fetchall()
                items = [_food(row, user_id) for row in rows[:size]]
                total_at = 19
            elif scope["path"] == "/api/v1/workouts":
                rows = await (await connection.execute(WORKOUT_PAGE_SQL, params)).fetchall()
                by_workout: dict = {row[0]: [] for row in rows[:size]}
                if by_workout:
                    cursor = await connection.execute(EXERCISES_SQL, {"ids": list(by_workout)})
                    exercises = await cursor.fetchall()
                    sets: dict = {row[0]: [] for row in exercises}
                    if sets:
                        cursor = await connection.execute(SETS_SQL, {"ids": list(sets)})
                        for row in await cursor.fetchall():
                            sets[row[0]].append(_set(row))
                    for row in exercises:
                        by_workout[row[1]].append(_exercise(row, sets[row[0]]))
                items = [_workout(row, by_workout[row[0]], user_id) for row in rows[:size]]
                total_at = 16
            else:
                return 404, b'{"error":{"code":"not_found"}}'
        if rows:
            total = rows[0][total_at]
        else:  # past the end: no row carries the count
            column = "food_logs" if scope["path"] == "/api/v1/food/logs" else "workouts"
            async with self.pool.connection() as connection:
                cursor = await connection.execute(
                    f"SELECT {column} FROM fitness_liverowcount WHERE user_id = %s", (user_id,)
                )
                found = await cursor.fetchone()
                total = found[0] if found else 0
        body = {"items": items, "total": total, "page": page, "hasMore": len(rows) > size}
        return 200, orjson.dumps(body, option=orjson.OPT_UTC_Z)


app = Baseline()
