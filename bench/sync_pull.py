"""Sync pull benchmark against a running server, side by side with a raw baseline.

Seeds one user (once; later runs top it up) with `--logs` food logs through batch creates
and `--workouts` workouts of 3 exercises x 3 logged sets, pulls everything once for a
cut-off, then changes a handful of rows as a phone's day does (3 food logs edited, 2
created, 1 deleted; 1 workout's exercises replaced, 1 workout created), and times the
incremental pull a device makes next, `GET /api/v1/sync?last_pulled_at=<cut-off>`, and
the first pull (`last_pulled_at=null`, everything, streamed). With `--baseline` it then
starts the raw handler of bench/raw_sync.py beside the server (see bench/side_by_side.py),
checks that both answer the same bytes for both pulls, loads the two in turn and prints the
ratio of their median requests/s. The clients accept gzip, as phones do.

    .venv/bin/python bench/sync_pull.py [--base-url URL] [--baseline] [--rounds N]

Environment: as bench/food_logs.py (BENCH_BASE_URL, BENCH_EMAIL, BENCH_PASSWORD); with
`--baseline`, the server's own (DATABASE_URL, REDIS_URL, SECRET_KEY or DEBUG=true).
"""

import json
import sys
from functools import partial

import httpx
from food_logs import (
    API,
    BATCH_SIZE,
    Account,
    Timings,
    arguments,
    batch_job,
    print_reports,
    print_side_by_side,
    run,
)
from side_by_side import ROOT

# bench/workouts.py by its package path: as a top-level `workouts` it would shadow the
# project's app of that name, which the baseline's settings import (side_by_side).
sys.path.insert(0, str(ROOT))
from bench.workouts import post, workout

PATH = f"{API}/sync"
SCHEMA_VERSION = 1


def seed(base_url: str, token: str, logs: int, workouts: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=60, headers=headers) as client:
        have_logs = client.get(f"{API}/food/logs", params={"page_size": 1}).json()["total"]
        have_workouts = client.get(f"{API}/workouts", params={"page_size": 1}).json()["total"]
    missing = max(0, logs - have_logs)
    batches = [
        batch_job(min(BATCH_SIZE, missing - start)) for start in range(0, missing, BATCH_SIZE)
    ]
    run(Timings("seed logs"), base_url, token, batches, 1)
    jobs = [partial(post, n) for n in range(max(0, workouts - have_workouts))]
    run(Timings("seed workouts"), base_url, token, jobs, 2)


def change_a_few(client: httpx.Client) -> None:
    logs = client.get(f"{API}/food/logs", params={"page_size": 4}).json()["items"]
    for log in logs[:3]:
        client.patch(f"{API}/food/logs/{log['id']}", json={"name": "Edited"}).raise_for_status()
    client.delete(f"{API}/food/logs/{logs[3]['id']}").raise_for_status()
    batch_job(2)(client).raise_for_status()
    edited = client.get(f"{API}/workouts", params={"page_size": 1}).json()["items"][0]
    client.put(f"{API}/workouts/{edited['id']}", json=workout(7)).raise_for_status()
    post(1, client).raise_for_status()


def main() -> None:
    parser = arguments(__doc__, requests=200, timed="incremental pulls")
    parser.add_argument("--logs", type=int, default=2_000, help="food logs to seed the user with")
    parser.add_argument("--workouts", type=int, default=100, help="workouts to seed")
    parser.add_argument("--first-requests", type=int, default=20, help="first pulls to time")
    args = parser.parse_args()

    account = Account.from_environment(args.base_url)
    base_url = account.base_url
    token = account.token()
    seed(base_url, token, args.logs, args.workouts)
    token = account.token()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=60, headers=headers) as client:
        first = client.get(PATH, params={"last_pulled_at": "null"})
        first.raise_for_status()
        change_a_few(client)
    pulls = {
        "incremental": (
            {"last_pulled_at": first.json()["timestamp"], "schema_version": SCHEMA_VERSION},
            args.requests,
        ),
        "first": (
            {"last_pulled_at": "null", "schema_version": SCHEMA_VERSION},
            args.first_requests,
        ),
    }

    def load(kind: str, url: str) -> Timings:
        params, count = pulls[kind]
        timings = Timings(f"GET /sync, {kind} pull")
        run(
            timings,
            url,
            token,
            [lambda client: client.get(PATH, params=params)] * count,
            args.concurrency,
        )
        if timings.failures:
            sys.exit(f"{timings.failures} failed requests against {url}")
        return timings

    reports = [load(kind, base_url).report() for kind in pulls]
    results = {}
    if args.baseline:
        from side_by_side import Baseline, alternate, same_bytes, vacuum_analyze

        vacuum_analyze(
            "food_foodlog",
            "food_foodlogtag",
            "food_foodlogshare",
            "workouts_workout",
            "workouts_exercise",
            "workouts_exerciseset",
            "sync_synctombstone",
        )
        with Baseline("bench.raw_sync:app") as baseline:
            for params, _ in pulls.values():
                same_bytes(base_url, baseline.url, PATH, params, token, cutoff=True)
            for kind in pulls:
                results[kind] = alternate(
                    lambda url, kind=kind: load(kind, url).report()["requests_per_second"],
                    base_url,
                    baseline.url,
                    args.rounds,
                )
    if args.json:
        print(json.dumps({"base_url": base_url, "results": reports, "side_by_side": results}))
        return
    print_reports(reports)
    for kind, result in results.items():
        print_side_by_side(f"GET /sync, {kind} pull,", args.rounds, pulls[kind][1], result)


if __name__ == "__main__":
    main()
