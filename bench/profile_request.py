"""Profiles one API request in-process, through the project's ASGI application.

Runs `GET <path>` `--requests` times, one after another, on the ASGI app the server runs
(middleware, sync/async hops and all, no socket), and prints CPU ms per request and a
profile: pyinstrument's call tree (default) or cProfile's top functions (`--cprofile`).

    DATABASE_URL=... REDIS_URL=... DEBUG=true .venv/bin/python bench/profile_request.py \\
        --token "$ACCESS_TOKEN" /api/v1/food/logs?page_size=50

With `--callgrind`, under `valgrind --tool=callgrind --instr-atstart=no`, it counts the
instructions of the requests instead (callgrind's `Collected` line over `--requests`): a
figure that repeats on a busy machine, for comparing two checkouts.
"""

import argparse
import asyncio
import cProfile
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")


async def _request(app, path: str, query: str, token: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict] = []
    pending = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if pending:
            return pending.pop()
        # Django then listens for a disconnect until the response is sent.
        await asyncio.Future()

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


async def _many(app, path, query, token, count) -> None:
    for _ in range(count):
        status, body = await _request(app, path, query, token)
        if status != 200:
            sys.exit(f"{status}: {body[:300]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="path and query, e.g. /api/v1/food/logs?page_size=50")
    parser.add_argument("--token", required=True, help="an access token")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument(
        "--sync",
        action="store_true",
        help="profile through Django's test client instead: the same middleware and view, "
        "all on this thread (the ASGI path runs the view on a worker thread, which the "
        "profilers here do not follow; its time shows only in the ms per request)",
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="under `valgrind --tool=callgrind --instr-atstart=no`: count instructions of "
        "the timed requests only (callgrind's `Collected` line, divided by --requests); "
        "the count repeats to 0.1%% whatever else the machine does, where times do not",
    )
    args = parser.parse_args()
    path, _, query = args.url.partition("?")

    from fitness.asgi import application

    if args.sync:
        from django.test import Client

        client = Client(HTTP_AUTHORIZATION=f"Bearer {args.token}", HTTP_HOST="127.0.0.1")

        def batch(count: int) -> None:
            for _ in range(count):
                response = client.get(args.url)
                if response.status_code != 200:
                    sys.exit(f"{response.status_code}: {response.content[:300]!r}")
    else:

        def batch(count: int) -> None:
            asyncio.run(_many(application, path, query, args.token, count))

    batch(20)  # warm up
    if args.callgrind:
        # Start-up and the warm-up above are left out: collection is on just for the batch.
        toggle = ["callgrind_control", "--instr"]
        subprocess.run([*toggle, "on", str(os.getpid())], check=True, stdout=subprocess.DEVNULL)
        batch(args.requests)
        subprocess.run([*toggle, "off", str(os.getpid())], check=True, stdout=subprocess.DEVNULL)
        return
    start, cpu = time.perf_counter(), time.process_time()
    batch(args.requests)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"{args.requests} requests: {wall / args.requests * 1000:.2f} ms wall, "
        f"{cpu / args.requests * 1000:.2f} ms CPU per request"
    )
    if args.cprofile:
        profile = cProfile.Profile()
        profile.enable()
        batch(args.requests)
        profile.disable()
        pstats.Stats(profile).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            int(os.environ.get("PROFILE_LINES", "60"))
        )
        return
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="disabled")
    profiler.start()
    batch(args.requests)
    profiler.stop()
    print(profiler.output_text(unicode=False, show_all=False))


if __name__ == "__main__":
    main()
