"""Challenge leaderboard benchmark against a running server.

Seeds (once; later runs reuse it) a group of 1,000 members in one `workout_minutes`
challenge with 30 days of completed workouts each, written straight into the server's
database with the ORM (registering 1,000 users through the API would hit the per-IP
registration limit). Then, through the API:

- posts one new workout for one member and times until the board served by
  `GET /groups/{id}/challenges/{cid}` shows it (the refresh runs in the Celery worker when
  REDIS_URL is set, inside the request otherwise); also times one refresh in-process;
- times `GET /groups/{id}/challenges/{cid}` (the whole board, 1,000 rows) and reports
  requests/s and p50/p99 latency.

Run it with the same environment as the server (DATABASE_URL, REDIS_URL, SECRET_KEY or
DEBUG=true), so that it seeds the same database and signs tokens the server accepts:

    DEBUG=true .venv/bin/python bench/leaderboard.py [--base-url URL] [--requests N]
"""

import argparse
import json
import logging
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")

import django

django.setup()

from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import tokens  # noqa: E402
from accounts.models import User  # noqa: E402
from social import services  # noqa: E402
from social.models import (  # noqa: E402
    Challenge,
    ChallengeParticipant,
    Group,
    GroupMembership,
    LeaderboardEntry,
    MemberStatus,
    Role,
)
from workouts.models import Workout  # noqa: E402

API = "/api/v1"
GROUP_NAME = "bench-leaderboard"


def seed(members: int, days: int) -> tuple[Group, Challenge, list[User]]:
    existing = Group.objects.filter(name=GROUP_NAME).first()
    if existing is not None:
        challenge = existing.challenges.get()
        users = list(User.objects.filter(group_memberships__group=existing).order_by("email"))
        return existing, challenge, users
    now = timezone.now()
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(
                email=f"bench-lb-{n:04d}-{uuid.uuid4().hex[:6]}@example.com",
                name=f"Bench {n}",
                display_name=f"Bench {n}",
                password="!",  # unusable: tokens are issued directly
                invite_code=uuid.uuid4().hex[:16].upper(),
            )
            for n in range(members)
        )
        owner = users[0]
        group = services.create_group(owner=owner, name=GROUP_NAME, settings={"max_members": 1000})
        GroupMembership.objects.bulk_create(
            GroupMembership(
                group=group, user=user, role=Role.MEMBER, status=MemberStatus.ACTIVE, joined_at=now
            )
            for user in users[1:]
        )
        challenge = Challenge.objects.create(
            group=group,
            name="Bench minutes",
            type="workout_minutes",
            goals={"target": 3000, "unit": "minutes"},
            start_date=now - timedelta(days=days),
            end_date=now + timedelta(days=30),
            created_by=owner,
        )
        ChallengeParticipant.objects.bulk_create(
            ChallengeParticipant(challenge=challenge, user=user) for user in users
        )
    for start in range(0, members, 100):
        Workout.objects.bulk_create(
            Workout(
                owner=user,
                name="Bench run",
                type="cardio",
                duration=20 + (index + day) % 60,
                calories_burned=200,
                completed=True,
                completed_at=now - timedelta(days=day),
                created_at=now - timedelta(days=day, hours=1),
            )
            for index, user in enumerate(users[start : start + 100], start=start)
            for day in range(days)
        )
    services.refresh_leaderboard(challenge_id=challenge.pk)
    return group, challenge, users


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    if len(ordered) < 2:
        value = ordered[0] if ordered else 0.0
        return value, value
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return cuts[49], cuts[98]


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("celery").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url", default=os.environ.get("BENCH_BASE_URL", "http://127.0.0.1:8000")
    )
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200, help="board GETs to time")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    base_url = args.base_url.rstrip("/")

    started = time.perf_counter()
    group, challenge, users = seed(args.members, args.days)
    seeded_in = time.perf_counter() - started
    board_path = f"{API}/groups/{group.pk}/challenges/{challenge.pk}"
    runner = users[len(users) // 2]
    headers = {"Authorization": f"Bearer {tokens.issue_pair(runner)['access_token']}"}

    # Timed apart: the refresh itself, then the fan-out of `challenge.leaderboard` that its
    # commit sets off (in-process here, as no worker runs in this script).
    with transaction.atomic():
        refresh_started = time.perf_counter()
        services.refresh_leaderboard(challenge_id=challenge.pk)
        in_process = time.perf_counter() - refresh_started
        fanout_started = time.perf_counter()
    fanout = time.perf_counter() - fanout_started

    def my_score(client: httpx.Client) -> float:
        rows = client.get(board_path).json()["leaderboard"]
        return next(row["score"] for row in rows if row["user_id"] == str(runner.pk))

    try:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            before = my_score(client)
            posted = time.perf_counter()
            client.post(
                f"{API}/workouts",
                json={"name": "One more", "type": "cardio", "duration": 30, "completed": True},
            ).raise_for_status()
            visible = None
            deadline = posted + 60
            while time.perf_counter() < deadline:
                if my_score(client) >= before + 30:
                    visible = time.perf_counter() - posted
                    break
                time.sleep(0.05)
    except httpx.ConnectError:
        sys.exit(f"No server at {base_url}: start one (make run) or pass --base-url.")

    latencies: list[float] = []
    failures = 0

    def fetch(_: int) -> None:
        nonlocal failures
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            began = time.perf_counter()
            response = client.get(board_path)
            if response.is_success:
                latencies.append(time.perf_counter() - began)
            else:
                failures += 1

    wall_started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        list(pool.map(fetch, range(args.requests)))
    wall = time.perf_counter() - wall_started
    p50, p99 = percentiles(latencies)
    result = {
        "base_url": base_url,
        "members": LeaderboardEntry.objects.filter(challenge=challenge).count(),
        "workouts": Workout.objects.filter(owner__in=users).count(),
        "seed_seconds": round(seeded_in, 1),
        "refresh_in_process_ms": round(in_process * 1000, 1),
        "leaderboard_fanout_ms": round(fanout * 1000, 1),
        "new_workout_visible_on_board_ms": round(visible * 1000, 1) if visible else None,
        "board_get": {
            "requests": len(latencies),
            "failures": failures,
            "requests_per_second": round(len(latencies) / wall, 1) if wall else 0.0,
            "p50_ms": round(p50 * 1000, 1),
            "p99_ms": round(p99 * 1000, 1),
        },
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{base_url}: {result['members']} participants, {result['workouts']} workouts")
    print(f"  refresh (in process)                 {result['refresh_in_process_ms']} ms")
    print(f"  challenge.leaderboard to all members {result['leaderboard_fanout_ms']} ms")
    print(f"  new workout visible on the board     {result['new_workout_visible_on_board_ms']} ms")
    board = result["board_get"]
    print(
        f"  GET board: {board['requests']} requests, {board['failures']} failed, "
        f"{board['requests_per_second']} req/s, p50 {board['p50_ms']} ms, p99 {board['p99_ms']} ms"
    )


if __name__ == "__main__":
    main()
