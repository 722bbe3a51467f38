"""Supabase import benchmark: 10,000 users and 100,000 food logs, rows/s and peak memory.

Creates two throwaway databases on the PostgreSQL server of DATABASE_URL: a Supabase
stand-in (the plan's schema, `auth.users` with real bcrypt hashes) seeded in SQL, and an
empty target migrated from scratch; runs `import_supabase` from one into the other; prints
rows/s per entity and the peak memory (Python allocations by tracemalloc, and the process's
peak RSS); drops both databases (unless --keep).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/migration.py [--users N] [--logs N] [--batch-size N] [--json]
"""

import argparse
import json
import os
import resource
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import bcrypt
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.migration.standin import SCHEMA  # noqa: E402  (the schema the tests use)


def _server(url: str, dbname: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{dbname}"


def seed(url: str, users: int, logs: int) -> None:
    # One real bcrypt hash for everyone: hashing 10,000 passwords would time bcrypt, not us.
    hashed = bcrypt.hashpw(b"bench-password", bcrypt.gensalt(4)).decode()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(
            "INSERT INTO auth.users (id, email, encrypted_password, raw_user_meta_data, "
            "created_at, updated_at) "
            "SELECT md5('u' || n)::uuid, 'user' || n || '@example.com', %s, "
            "jsonb_build_object('name', 'User ' || n), now(), now() "
            "FROM generate_series(1, %s) AS n",
            (hashed, users),
        )
        conn.execute(
            "INSERT INTO food_logs (id, user_id, name, calories, protein, carbs, fat, timestamp, "
            "metadata, meal_type, tags, app_version) "
            "SELECT md5('f' || n)::uuid, md5('u' || (1 + n %% %s))::uuid, 'Meal ' || n, "
            "100 + n %% 900, (n %% 50)::decimal / 3, n %% 120, n %% 40, "
            "now() - (n || ' minutes')::interval, jsonb_build_object('n', n), "
            "(ARRAY['breakfast','lunch','dinner','snack'])[1 + n %% 4], ARRAY['bench'], '1.0' "
            "FROM generate_series(1, %s) AS n",
            (users, logs),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--logs", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep both databases")
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="peak RSS only: tracing every allocation slows the import several times over",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the bench creates its own databases).")
    tag = uuid.uuid4().hex[:8]
    source, target = f"bench_supabase_{tag}", f"bench_target_{tag}"
    admin_url = _server(base, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in (source, target):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        started = time.perf_counter()
        seed(_server(base, source), args.users, args.logs)
        seeded = time.perf_counter() - started

        os.environ["DATABASE_URL"] = _server(base, target)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        from migration import services

        if not args.no_tracemalloc:
            tracemalloc.start()
        started = time.perf_counter()
        run = services.import_supabase(
            database_url=_server(base, source), batch_size=args.batch_size
        )
        wall = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()  # (0, 0) when not tracing
        tracemalloc.stop()
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for conn in connections.all():
            if getattr(conn, "pool", None) is not None:
                conn.close_pool()
            conn.close()
    finally:
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                for name in (source, target):
                    admin.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )

    rows = sum(c["source_rows"] for c in run.counts.values())
    result = {
        "users": args.users,
        "food_logs": args.logs,
        "batch_size": args.batch_size,
        "seed_seconds": round(seeded, 1),
        "import_seconds": round(wall, 1),
        "rows_per_second": round(rows / wall, 1),
        "peak_python_mib": None if args.no_tracemalloc else round(peak / 2**20, 1),
        "peak_rss_mib": round(rss_kb / 1024, 1),
        "status": run.status,
        "counts": {
            name: {k: c[k] for k in ("source_rows", "imported", "rejected")}
            for name, c in run.counts.items()
        },
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{rows} rows in {wall:.1f} s: {rows / wall:.0f} rows/s "
        f"(batch {args.batch_size}; seeding took {seeded:.1f} s)"
    )
    print(f"peak memory: {result['peak_python_mib']} MiB Python, {result['peak_rss_mib']} MiB RSS")
    for name, c in result["counts"].items():
        print(
            f"  {name:18} {c['source_rows']:>8} rows, {c['imported']:>8} imported, "
            f"{c['rejected']:>5} rejected"
        )


if __name__ == "__main__":
    main()
