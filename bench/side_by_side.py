"""Runs the raw baseline (bench/raw_lists.py) beside the server and loads both in turn.

Used by `bench/food_logs.py --baseline`, `bench/workouts.py --baseline` and
`bench/sync_pull.py --baseline` (whose baseline is bench/raw_sync.py). The baseline
needs what the server signs and caches with, so the benchmark reads the server's settings
(run it with the server's environment: DATABASE_URL, REDIS_URL, SECRET_KEY or DEBUG=true,
CACHE_KEY_PREFIX); the baseline itself never imports Django.
"""

import logging
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _settings() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")
    import django
    from django.conf import settings

    django.setup()
    # The project's logging config would print every benchmark request.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not settings.REDIS_URL or settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        sys.exit("--baseline needs the server on PostgreSQL and Redis (DATABASE_URL, REDIS_URL).")
    return {
        "BASELINE_DATABASE_URL": os.environ["DATABASE_URL"],
        "BASELINE_REDIS_URL": settings.REDIS_URL,
        "BASELINE_JWT_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],
        "BASELINE_CACHE_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "BASELINE_AUTH_TTL": str(settings.AUTH_STATE_CACHE_SECONDS),
        "BASELINE_ACCESS_SECONDS": str(
            int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())
        ),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Baseline:
    """The raw handler in its own uvicorn process (one worker, as the server runs)."""

    def __init__(self, app: str = "bench.raw_lists:app") -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **_settings()}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        sys.exit("The baseline did not start.")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self) -> "Baseline":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def vacuum_analyze(*tables: str) -> None:
    """What autovacuum would have done after seeding, done now: without statistics (the
    shared development server runs with autovacuum off) PostgreSQL plans the page as if
    the user had one row and sorts all 10,000, which made the statement 40 ms instead
    of 2 ms, for the server and the baseline alike."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        for table in tables:
            connection.execute(f"VACUUM (ANALYZE) {table}")


def _without_cutoff(body: bytes) -> tuple[bytes, int]:
    """A pull's body with its cut-off (the last `"timestamp"`: records have their own) at 0."""
    start = body.rindex(b'"timestamp":') + len(b'"timestamp":')
    end = start
    while body[end : end + 1].isdigit():
        end += 1
    return body[:start] + b"0" + body[end:], int(body[start:end])


def same_bytes(
    server: str, baseline: str, path: str, params: dict, token: str, *, cutoff: bool = False
) -> None:
    """With `cutoff` (the sync pull), the body's `timestamp` is the pull's cut-off, which
    moves with every transaction on the PostgreSQL cluster, other databases' too: it is
    left out of the comparison, and the baseline's must lie between the server's, asked
    before and after it."""
    headers = {"Authorization": f"Bearer {token}"}
    ours = httpx.get(server + path, params=params, headers=headers, timeout=30)
    raw = httpx.get(baseline + path, params=params, headers=headers, timeout=30)
    ours.raise_for_status()
    raw.raise_for_status()
    mine, theirs = ours.content, raw.content
    if cutoff:
        after = httpx.get(server + path, params=params, headers=headers, timeout=30)
        after.raise_for_status()
        mine, before_at = _without_cutoff(mine)
        theirs, raw_at = _without_cutoff(theirs)
        after_at = _without_cutoff(after.content)[1]
        if not before_at <= raw_at <= after_at:
            sys.exit(
                f"{path}: the baseline's cut-off {raw_at} is not between the server's, "
                f"{before_at} and {after_at}."
            )
    if mine != theirs:
        at = next(
            (i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
            min(len(mine), len(theirs)),
        )
        sys.exit(
            f"The bodies differ at byte {at}:\n  server:   {mine[at - 80 : at + 80]!r}"
            f"\n  baseline: {theirs[at - 80 : at + 80]!r}"
        )


def alternate(
    load: Callable[[str], float], server: str, baseline: str, rounds: int
) -> dict[str, object]:
    """`load(base_url)` returns requests/s; the two take turns, so that a noisy neighbour
    slows both alike, and the medians are compared."""
    ours, raw = [], []
    for _ in range(rounds):
        ours.append(load(server))
        raw.append(load(baseline))
    ratios = [a / b for a, b in zip(ours, raw, strict=True) if b]
    return {
        "server_rps": round(statistics.median(ours), 1),
        "baseline_rps": round(statistics.median(raw), 1),
        "ratio": round(statistics.median(ratios), 2),
        "server_runs": ours,
        "baseline_runs": raw,
    }
