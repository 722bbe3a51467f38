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


def same_bytes(
    server: str, baseline: str, path: str, params: dict, token: str, *, settle: bool = False
) -> None:
    """With `settle`, the body carries a value that moves with the database cluster (the
    sync pull's cut-off follows every transaction, other databases' too): the server is
    asked again after the baseline until its two answers agree, which pins the baseline's
    value between them."""
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(20):
        ours = httpx.get(server + path, params=params, headers=headers, timeout=30)
        raw = httpx.get(baseline + path, params=params, headers=headers, timeout=30)
        if not settle:
            break
        again = httpx.get(server + path, params=params, headers=headers, timeout=30)
        if again.content == ours.content:
            break
    else:
        sys.exit(f"{path}: the server's answer kept changing (other writers on the cluster?).")
    ours.raise_for_status()
    raw.raise_for_status()
    if ours.content != raw.content:
        at = next(
            (i for i, (a, b) in enumerate(zip(ours.content, raw.content, strict=False)) if a != b),
            min(len(ours.content), len(raw.content)),
        )
        sys.exit(
            f"The bodies differ at byte {at}:\n  server:   {ours.content[at - 80 : at + 80]!r}"
            f"\n  baseline: {raw.content[at - 80 : at + 80]!r}"
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
