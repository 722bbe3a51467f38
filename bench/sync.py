"""Sync pull benchmark: a user with 10,000 food logs and 1,000 workouts (3 exercises each).

In-process, no server needed: creates a throwaway database on DATABASE_URL's server (the
suite's settings, migrated from scratch), seeds the user in bulk, then through the Django
test client measures
- the first pull (`last_pulled_at=null`): time, bytes plain and gzipped, and the peak of
  Python allocations (tracemalloc) while the streamed answer is consumed, beside the same
  body built in memory at once (what a non-streamed answer would cost);
- an incremental pull after one edit: time, bytes, queries.
Drops the database at the end. For requests/s over HTTP, side by side with a raw
baseline, see bench/sync_pull.py.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/sync.py [--logs N] [--workouts N] [--json]
"""

import argparse
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import tokens  # noqa: E402
from accounts.models import User  # noqa: E402
from food.models import FoodLog, FoodLogTag  # noqa: E402
from sync import selectors  # noqa: E402
from workouts.models import Exercise, Workout  # noqa: E402

URL = "/api/v1/sync"


def seed(logs: int, workouts: int) -> User:
    user = User.objects.create_user(email="bench@example.com", password="x", name="Bench")
    now = timezone.now()
    rows = [
        FoodLog(
            owner=user,
            name=f"Meal {n}",
            calories=100 + n % 900,
            protein=n % 50,
            carbs=n % 120,
            fat=n % 40,
            timestamp=now - timezone.timedelta(minutes=n),
            meal_type=("breakfast", "lunch", "dinner", "snack")[n % 4],
            metadata={"n": n},
        )
        for n in range(logs)
    ]
    FoodLog.objects.bulk_create(rows, batch_size=2000)
    FoodLogTag.objects.bulk_create(
        [FoodLogTag(food_log=row, name="bench") for row in rows], batch_size=2000
    )
    sessions = [
        Workout(owner=user, name=f"Session {n}", type="strength", duration=45)
        for n in range(workouts)
    ]
    Workout.objects.bulk_create(sessions, batch_size=2000)
    Exercise.objects.bulk_create(
        [
            Exercise(
                workout=workout,
                position=p,
                name=name,
                name_key=name.lower(),
                sets=3,
                reps=8,
                weight_kg=60 + p * 10,
                weight_unit="kg",
            )
            for workout in sessions
            for p, name in enumerate(("Squat", "Bench", "Row"))
        ],
        batch_size=2000,
    )
    return user


def _consume(client: Client, query: dict, headers: dict) -> tuple[int, bytes]:
    response = client.get(URL, query, **headers)
    size, last = 0, b""
    for piece in response.streaming_content if response.streaming else [response.content]:
        size += len(piece)
        last = piece
    return size, last


def measure(client: Client, query: dict, **headers) -> dict:
    """Time and queries on one run, peak memory on another (tracemalloc slows Python)."""
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(count):
        size, last = _consume(client, query, headers)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    _consume(client, query, headers)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds": round(elapsed, 3),
        "bytes": size,
        "peak_mib": round(peak / 2**20, 1),
        "queries": len(queries),
        "tail": last[-80:],
    }


def unstreamed_peak(user: User) -> float:
    """The same first pull built as one body in memory."""
    tracemalloc.start()
    pull = selectors.pull_changes(user=user, last_pulled_at=None, migration=selectors.Migration())
    body = b"".join(pull.chunks())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del body
    return round(peak / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logs", type=int, default=10_000)
    parser.add_argument("--workouts", type=int, default=1_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0)
    try:
        started = time.perf_counter()
        user = seed(args.logs, args.workouts)
        seeded = time.perf_counter() - started
        client = Client(HTTP_AUTHORIZATION=f"Bearer {tokens.issue_pair(user)['access_token']}")

        # Warm-up: the first request of a process imports and builds what every later one
        # reuses (URLs, serializers), which is not what a pull costs.
        _consume(client, {"last_pulled_at": "1", "migration": ""}, {})
        first = measure(client, {"last_pulled_at": "null"})
        timestamp = json.loads(first.pop("tail").rsplit(b'"timestamp":', 1)[1].rstrip(b"}"))
        gzipped = measure(client, {"last_pulled_at": "null"}, HTTP_ACCEPT_ENCODING="gzip")
        gzipped.pop("tail")
        baseline = unstreamed_peak(user)
        log = FoodLog.objects.filter(owner=user).first()
        log.name = "Edited"
        log.save()
        incremental = measure(client, {"last_pulled_at": timestamp})
        incremental.pop("tail")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    result = {
        "logs": args.logs,
        "workouts": args.workouts,
        "exercises": args.workouts * 3,
        "database": connection.vendor,
        "seed_seconds": round(seeded, 1),
        "first_pull": first,
        "first_pull_gzip": gzipped,
        "first_pull_unstreamed_peak_mib": baseline,
        "incremental_pull_one_change": incremental,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{args.logs} food logs, {args.workouts} workouts, {args.workouts * 3} exercises "
        f"({connection.vendor}, seeded in {seeded:.1f} s)"
    )
    print(
        f"first pull:        {first['seconds']} s, {first['bytes'] / 1e6:.1f} MB, "
        f"{gzipped['bytes'] / 1e3:.0f} kB gzipped ({gzipped['seconds']} s), "
        f"{first['queries']} queries"
    )
    print(f"peak memory:       {first['peak_mib']} MiB streamed, {baseline} MiB built at once")
    print(
        f"incremental pull:  {incremental['seconds']} s, {incremental['bytes']} bytes, "
        f"{incremental['queries']} queries"
    )


if __name__ == "__main__":
    main()
