"""Food log API benchmark against a running server.

Seeds one user with 10,000 food logs through batch creates of 500 (timing them; one at a
time by default), then times `GET /api/v1/food/logs?page_size=50` (4 in parallel by default).
Reports requests/s and p50/p99 latency of both.

    .venv/bin/python bench/food_logs.py [--base-url URL] [--requests N] [--concurrency N]

With `--baseline`, it then starts the raw handler of bench/raw_lists.py (no Django; see
bench/side_by_side.py) beside the server, checks that both answer the same bytes, loads
the two in turn (`--rounds` rounds of `--requests` each) and prints the ratio of their
median requests/s. Run it with the server's environment (DATABASE_URL, REDIS_URL, ...).

Environment: BENCH_BASE_URL (default http://127.0.0.1:8000); BENCH_EMAIL and BENCH_PASSWORD
to reuse one account across runs (it is registered on first use, and only topped up to the
target afterwards). Without them every run registers a fresh user, and registration is
rate-limited per IP (THROTTLE_REGISTER, default 10/hour).
"""

import argparse
import json
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

BATCH_SIZE = 500
API = "/api/v1"


@dataclass
class Timings:
    name: str
    seconds: list[float] = field(default_factory=list)
    failures: int = 0
    wall: float = 0.0

    def report(self) -> dict:
        ordered = sorted(self.seconds)
        if len(ordered) >= 2:
            cuts = statistics.quantiles(ordered, n=100, method="inclusive")
            p50, p99 = cuts[49], cuts[98]
        else:
            p50 = p99 = ordered[0] if ordered else 0.0
        return {
            "name": self.name,
            "requests": len(ordered),
            "failures": self.failures,
            "requests_per_second": round(len(ordered) / self.wall, 1) if self.wall else 0.0,
            "p50_ms": round(p50 * 1000, 1),
            "p99_ms": round(p99 * 1000, 1),
        }


def login(base_url: str, email: str, password: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(f"{API}/auth/login", json={"email": email, "password": password})
        if response.status_code == 401:
            response = client.post(
                f"{API}/auth/register", json={"email": email, "password": password, "name": "Bench"}
            )
        if response.status_code == 429:
            sys.exit("Rate-limited: set BENCH_EMAIL and BENCH_PASSWORD to reuse one account.")
        response.raise_for_status()
        return response.json()["access_token"]


@dataclass(frozen=True)
class Account:
    """The benchmark's user: BENCH_EMAIL and BENCH_PASSWORD's, or a new one per run."""

    base_url: str
    email: str
    password: str

    @classmethod
    def from_environment(cls, base_url: str) -> "Account":
        email = os.environ.get("BENCH_EMAIL") or f"bench-{secrets.token_hex(6)}@example.com"
        password = os.environ.get("BENCH_PASSWORD") or secrets.token_urlsafe(18)
        return cls(base_url.rstrip("/"), email, password)

    def token(self) -> str:
        """A fresh access token (the account is registered on first use)."""
        try:
            return login(self.base_url, self.email, self.password)
        except httpx.ConnectError:
            sys.exit(f"No server at {self.base_url}: start one (make run) or pass --base-url.")


def run(
    timings: Timings,
    base_url: str,
    token: str,
    jobs: list[Callable[[httpx.Client], httpx.Response]],
    concurrency: int,
) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    clients = [
        httpx.Client(base_url=base_url, headers=headers, timeout=60) for _ in range(concurrency)
    ]

    def timed(index: int) -> httpx.Response:
        start = time.perf_counter()
        response = jobs[index](clients[index % concurrency])
        elapsed = time.perf_counter() - start
        if response.is_success:
            timings.seconds.append(elapsed)
        else:
            timings.failures += 1
        return response

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            responses = list(pool.map(timed, range(len(jobs))))
    finally:
        for client in clients:
            client.close()
    timings.wall = time.perf_counter() - started
    return responses


def batch_job(count: int) -> Callable[[httpx.Client], httpx.Response]:
    items = [
        {
            "id": str(uuid.uuid4()),
            "name": f"Bench meal {n}",
            "calories": 200 + n % 600,
            "protein": 10 + n % 40,
            "carbs": 30 + n % 70,
            "fat": 5 + n % 30,
            "meal_type": ("breakfast", "lunch", "dinner", "snack")[n % 4],
            "tags": ["bench", f"t{n % 10}"],
        }
        for n in range(count)
    ]
    return lambda client: client.post(f"{API}/food/logs/batch", json={"items": items})


def print_reports(reports: list[dict]) -> None:
    print(f"{'endpoint':44} {'n':>5} {'fail':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for r in reports:
        print(
            f"{r['name'][:44]:44} {r['requests']:>5} {r['failures']:>5} "
            f"{r['requests_per_second']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8}"
        )


def print_side_by_side(label: str, rounds: int, requests: int, result: dict) -> None:
    """One line for `side_by_side.alternate`'s `result`."""
    print(
        f"{label} side by side, {rounds} rounds of {requests}: "
        f"server {result['server_rps']} req/s, raw baseline {result['baseline_rps']} req/s, "
        f"ratio {result['ratio']} (runs: server {result['server_runs']}, "
        f"baseline {result['baseline_runs']})"
    )


def compare(base_url: str, token: str, args: argparse.Namespace) -> None:
    from side_by_side import Baseline, alternate, same_bytes, vacuum_analyze

    path, params = f"{API}/food/logs", {"page_size": 50}

    def load(url: str) -> float:
        timings = Timings(url)
        job = [lambda client: client.get(path, params=params)] * args.requests
        run(timings, url, token, job, args.concurrency)
        if timings.failures:
            sys.exit(f"{timings.failures} failed requests against {url}")
        return timings.report()["requests_per_second"]

    vacuum_analyze("food_foodlog", "food_foodlogtag", "food_foodlogshare")
    with Baseline() as baseline:
        same_bytes(base_url, baseline.url, path, params, token)
        result = alternate(load, base_url, baseline.url, args.rounds)
    print_side_by_side("GET /food/logs?page_size=50", args.rounds, args.requests, result)


def arguments(doc: str, *, requests: int, timed: str) -> argparse.ArgumentParser:
    """The options of every list and sync benchmark (`timed`: what `--requests` counts);
    each adds its own."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "--base-url", default=os.environ.get("BENCH_BASE_URL", "http://127.0.0.1:8000")
    )
    parser.add_argument("--requests", type=int, default=requests, help=f"{timed} to time")
    parser.add_argument("--concurrency", type=int, default=4, help="parallel requests")
    parser.add_argument(
        "--baseline", action="store_true", help="compare with the raw handler, side by side"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternations with --baseline")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main() -> None:
    parser = arguments(__doc__, requests=500, timed="list requests")
    parser.add_argument("--logs", type=int, default=10_000, help="logs to seed the user with")
    parser.add_argument("--batches", type=int, default=20, help="least batch creates to time")
    parser.add_argument(
        "--write-concurrency",
        type=int,
        default=1,
        help="parallel batch creates (more than 1 needs PostgreSQL: SQLite refuses "
        "concurrent writers unless it runs with transaction_mode=IMMEDIATE)",
    )
    args = parser.parse_args()

    account = Account.from_environment(args.base_url)
    base_url = account.base_url
    token = account.token()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        existing = client.get(
            f"{API}/food/logs",
            params={"page_size": 1},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["total"]

    # Seed up to the target; batches beyond it (to have enough samples) are deleted again.
    seeding = -(-max(0, args.logs - existing) // BATCH_SIZE)
    extra = max(0, args.batches - seeding)
    sizes = [min(BATCH_SIZE, args.logs - existing - n * BATCH_SIZE) for n in range(seeding)]
    batch = Timings("POST /food/logs/batch (500 items)")
    responses = run(
        batch,
        base_url,
        token,
        [batch_job(size) for size in sizes] + [batch_job(BATCH_SIZE) for _ in range(extra)],
        args.write_concurrency,
    )
    spare = [item["id"] for r in responses[seeding:] if r.is_success for item in r.json()["items"]]
    token = account.token()
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for start in range(0, len(spare), BATCH_SIZE):
            client.request(
                "DELETE",
                f"{API}/food/logs/batch",
                json={"ids": spare[start : start + BATCH_SIZE]},
                headers={"Authorization": f"Bearer {token}"},
            ).raise_for_status()

    listing = Timings("GET /food/logs?page_size=50")
    run(
        listing,
        base_url,
        token,
        [lambda client: client.get(f"{API}/food/logs", params={"page_size": 50})] * args.requests,
        args.concurrency,
    )

    reports = [batch.report(), listing.report()]
    if args.baseline:
        compare(base_url, token, args)
    if args.json:
        print(json.dumps({"base_url": base_url, "user": account.email, "results": reports}))
    else:
        print(
            f"{base_url}  user {account.email}  "
            f"concurrency: writes {args.write_concurrency}, reads {args.concurrency}"
        )
        print_reports(reports)
    if any(r["failures"] for r in reports):
        sys.exit(1)


if __name__ == "__main__":
    main()
