"""Workout list benchmark against a running server, side by side with a raw baseline.

Seeds one user (once; later runs top it up) with `--workouts` workouts through
`POST /api/v1/workouts`, each with 3 exercises of 3 logged sets, then times
`GET /api/v1/workouts?page_size=50` (exercises and sets included) and prints requests/s
and p50/p99 latency. With `--baseline` it then starts the raw handler of
bench/raw_lists.py beside the server (see bench/side_by_side.py), checks that both answer
the same bytes, loads the two in turn and prints the ratio of their median requests/s.

    .venv/bin/python bench/workouts.py [--base-url URL] [--baseline] [--rounds N]

Environment: as bench/food_logs.py (BENCH_BASE_URL, BENCH_EMAIL, BENCH_PASSWORD); with
`--baseline`, the server's own (DATABASE_URL, REDIS_URL, SECRET_KEY or DEBUG=true).
"""

import json
import sys
from functools import partial

import httpx
from food_logs import API, Account, Timings, arguments, print_reports, print_side_by_side, run

PATH = f"{API}/workouts"
PARAMS = {"page_size": 50}


def workout(n: int) -> dict:
    def sets(kg: float) -> list[dict]:
        return [
            {"reps": 5 + k, "weight": {"value": kg + 2.5 * k, "unit": "kg"}, "rpe": 7.5}
            for k in range(3)
        ]

    return {
        "name": f"Bench workout {n}",
        "type": "strength",
        "duration": 45 + n % 30,
        "completed": True,
        "exercises": [
            {"name": "Squat", "weight": {"value": 100, "unit": "kg"}, "set_logs": sets(100)},
            {"name": "Bench press", "weight": {"value": 155, "unit": "lb"}, "set_logs": sets(70)},
            {"name": "Row", "set_logs": sets(60), "notes": "slow"},
        ],
    }


def post(n: int, client: httpx.Client) -> httpx.Response:
    return client.post(PATH, json=workout(n))


def main() -> None:
    parser = arguments(__doc__, requests=200, timed="list requests")
    parser.add_argument("--workouts", type=int, default=500, help="workouts to seed the user with")
    args = parser.parse_args()

    account = Account.from_environment(args.base_url)
    base_url = account.base_url
    token = account.token()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as client:
        existing = client.get(PATH, params={"page_size": 1}).json()["total"]
    seeding = Timings("POST /workouts (3 exercises x 3 sets)")
    jobs = [partial(post, n) for n in range(max(0, args.workouts - existing))]
    run(seeding, base_url, token, jobs, 2)
    token = account.token()

    def load(url: str) -> Timings:
        timings = Timings(f"GET /workouts?page_size=50 ({url})")
        job = [lambda client: client.get(PATH, params=PARAMS)] * args.requests
        run(timings, url, token, job, args.concurrency)
        if timings.failures:
            sys.exit(f"{timings.failures} failed requests against {url}")
        return timings

    listing = load(base_url)
    reports = [seeding.report(), listing.report()]
    result = None
    if args.baseline:
        from side_by_side import Baseline, alternate, same_bytes, vacuum_analyze

        vacuum_analyze(
            "workouts_workout",
            "workouts_exercise",
            "workouts_exerciseset",
            "workouts_workoutshare",
            "workouts_workoutphoto",
        )
        with Baseline() as baseline:
            same_bytes(base_url, baseline.url, PATH, PARAMS, token)
            result = alternate(
                lambda url: load(url).report()["requests_per_second"],
                base_url,
                baseline.url,
                args.rounds,
            )
    if args.json:
        print(json.dumps({"base_url": base_url, "results": reports, "side_by_side": result}))
        return
    print_reports(reports)
    if result:
        print_side_by_side("GET /workouts?page_size=50", args.rounds, args.requests, result)


if __name__ == "__main__":
    main()
