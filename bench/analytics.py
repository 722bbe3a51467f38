"""Analytics costs: the nightly rollup of one day over a seeded event table, and the
per-request route counter, each beside a baseline.

Creates a throwaway database on the PostgreSQL server of DATABASE_URL, migrates it, seeds
`--actors` pseudonymous users over `--days` days in SQL (each active on a given day with
probability 0.3, three events per active day, a signup on their first day), then times
`roll_up_day` for the last day (beside one `COUNT(*)` of that day's events, the least any
rollup must read). With REDIS_URL it also times the route counter (`requests.record`, in
memory, and the one pipelined write its timer makes) beside a plain cache `get` (one
round trip). Drops the database after.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/analytics.py [--actors N] [--days N] [--requests N] [--json]
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED = """
INSERT INTO analytics_event (actor, name, origin, occurred_at, received_at, properties)
SELECT md5('a' || a), (ARRAY['food_logged','chat_message_sent','workout_completed',
        'screen_viewed','recommendation_viewed','photo_recognized'])[1 + (a + d + e) %% 6],
       'server', (current_date - d) + make_interval(mins => (a * 7 + e * 131) %% 1440),
       now(), '{}'::jsonb
FROM generate_series(1, %(actors)s) AS a, generate_series(1, %(days)s) AS d,
     generate_series(1, 3) AS e
WHERE abs(hashtext(a || ':' || d)) %% 10 < 3;
INSERT INTO analytics_event (actor, name, origin, occurred_at, received_at, properties)
SELECT md5('a' || a), 'user_signed_up', 'server',
       (current_date - (1 + a %% %(days)s)) + interval '1 minute', now(), '{}'::jsonb
FROM generate_series(1, %(actors)s) AS a;
ANALYZE analytics_event;
"""


def _server(url: str, dbname: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{dbname}"


def _timed(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actors", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the bench creates its own database).")
    name = f"bench_analytics_{uuid.uuid4().hex[:8]}"
    admin_url = _server(base, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    result: dict = {"actors": args.actors, "days": args.days}
    try:
        os.environ["DATABASE_URL"] = _server(base, name)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")
        os.environ.setdefault("CACHE_KEY_PREFIX", f"bench-{name}")
        import django

        django.setup()
        from django.core.cache import cache
        from django.core.management import call_command
        from django.db import connection, connections
        from django.utils import timezone

        from analytics import requests, rollups
        from analytics.models import Event

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        with psycopg.connect(_server(base, name), autocommit=True) as conn:
            for statement in filter(str.strip, SEED.split(";")):
                conn.execute(statement, {"actors": args.actors, "days": args.days})
        result["seed_seconds"] = round(time.perf_counter() - started, 1)
        result["events"] = Event.objects.count()
        day = timezone.now().date() - rollups.timedelta(days=1)
        start = rollups.day_start(day)

        def baseline() -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM analytics_event WHERE occurred_at >= %s AND "
                    "occurred_at < %s",
                    [start, start + rollups.timedelta(days=1)],
                )

        result["count_day_seconds"] = round(_timed(baseline, args.runs), 3)
        result["roll_up_day_seconds"] = round(
            _timed(lambda: rollups.roll_up_day(day), args.runs), 3
        )
        if os.environ.get("REDIS_URL"):
            cache.set("bench-probe", 1)

            def counted() -> None:
                for _ in range(args.requests):
                    requests.record(
                        method="GET", route="/api/v1/food/logs", status=200, duration_ms=12
                    )
                # What the timer thread writes meanwhile, once: it is work, if not the request's.
                requests.flush()

            def plain() -> None:
                for _ in range(args.requests):
                    cache.get("bench-probe")

            result["record_us"] = round(_timed(counted, 1) / args.requests * 1e6, 1)
            result["cache_get_us"] = round(_timed(plain, 1) / args.requests * 1e6, 1)
            cache.delete_pattern("*")
        for conn in connections.all():
            if getattr(conn, "pool", None) is not None:
                conn.close_pool()
            conn.close()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['events']} events ({args.actors} actors, {args.days} days), "
        f"seeded in {result['seed_seconds']} s"
    )
    print(
        f"roll_up_day: {result['roll_up_day_seconds']} s "
        f"(baseline COUNT(*) of the day: {result['count_day_seconds']} s), median of {args.runs}"
    )
    if "record_us" in result:
        print(
            f"route counter: {result['record_us']} µs per request "
            f"(baseline cache get: {result['cache_get_us']} µs)"
        )


if __name__ == "__main__":
    main()
