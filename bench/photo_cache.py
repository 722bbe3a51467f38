"""Photo recognition answered from the cache, end to end over HTTP, against running servers.

Runs the Gemini stand-in of the tests (tests/ai_assistant/gemini_standin.py) on
127.0.0.1:--gemini-port, answering every request with one food analysis after
--gemini-delay seconds; each server must be started pointing at it:

    GEMINI_API_KEY=bench-standin-key GEMINI_BASE_URL=http://127.0.0.1:8765 \
    AI_RATE_FOOD_RECOGNITION=100000/hour  (plus DATABASE_URL, REDIS_URL, a Celery worker)

For each server it registers a user, posts one photo (a miss: the model is asked), then
per round:
- hit:        the same photo --hits times, `Prefer: wait=30` (as the app sends it);
- hit log:    the same with `log=true` (the photo stored, the meal logged);
- miss:       --misses new photos with `Prefer: wait=30`; besides the whole request, the
              wake-up: from the job's `finished_at` (the server's clock, this machine's)
              to the client holding the answer.
It prints p50/p95 of each. With --baseline-url (a second server, e.g. main's code on its
own database and Redis db) the two take turns each round, and the ratios of the medians
are printed too.

    .venv/bin/python bench/photo_cache.py --base-url http://127.0.0.1:8012 \
        [--baseline-url http://127.0.0.1:8011] [--rounds 3] [--hits 30] [--misses 5]
"""

import argparse
import io
import json
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.ai_assistant.factories import analysis_payload  # noqa: E402
from tests.ai_assistant.gemini_standin import (  # noqa: E402
    GeminiStandIn,
    Reply,
    candidate_response,
)

API = "/api/v1"
STANDIN_KEY = "bench-standin-key"
WAIT = {"Prefer": "wait=30"}


class AlwaysAnswering(GeminiStandIn):
    """The tests' stand-in, answering every request (nothing to script in a benchmark)."""

    def __init__(self, port: int, delay: float) -> None:
        super().__init__(api_key=STANDIN_KEY, port=port)
        self.delay = delay

    def _next_reply(self) -> Reply:
        return Reply(body=candidate_response(json.dumps(analysis_payload())), delay=self.delay)


def photo(width: int, height: int) -> bytes:
    """A camera-like JPEG (detailed, a different one each call)."""
    from PIL import Image

    small = (width // 8, height // 8)
    # os.urandom, not Image.effect_noise: that repeats itself from one process to the next,
    # and a photo of an earlier run would be answered from the cache.
    noise = Image.frombytes("RGB", small, os.urandom(small[0] * small[1] * 3))
    image = noise.resize((width, height), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def login(base_url: str) -> httpx.Client:
    email = f"bench-photo-{secrets.token_hex(6)}@example.com"
    password = secrets.token_urlsafe(18)
    client = httpx.Client(base_url=base_url, timeout=60)
    try:
        response = client.post(
            f"{API}/auth/register", json={"email": email, "password": password, "name": "Bench"}
        )
    except httpx.ConnectError:
        sys.exit(f"No server at {base_url}.")
    if response.status_code == 429:
        sys.exit("Registration is rate-limited (THROTTLE_REGISTER): restart later.")
    response.raise_for_status()
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


@dataclass
class Server:
    url: str
    client: httpx.Client
    seed: bytes
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds)


def recognize(server: Server, image: bytes, *, log: bool = False) -> tuple[float, float, dict]:
    """(seconds for the request, wall time when the answer was in, the body)."""
    data = {"log": "true"} if log else {}
    started = time.perf_counter()
    response = server.client.post(
        f"{API}/ai/food/recognize",
        files={"image": ("meal.jpg", image, "image/jpeg")},
        data=data,
        headers=WAIT,
    )
    received, elapsed = time.time(), time.perf_counter() - started
    body = response.json()
    if response.status_code != 200 or body.get("status") != "succeeded":
        sys.exit(f"{server.url}: {response.status_code} {body}")
    if log and body["food_log_id"] is None:
        sys.exit(f"{server.url}: log=true answered without a food log: {body}")
    return elapsed, received, body


def round_of(server: Server, args: argparse.Namespace) -> None:
    for name, log in (("hit", False), ("hit log=true", True)):
        for _ in range(args.hits):
            elapsed, _, body = recognize(server, server.seed, log=log)
            if body["result"]["source"] != "cache":
                sys.exit(f"{server.url}: the seed photo was not answered from the cache: {body}")
            server.add(name, elapsed)
    for _ in range(args.misses):
        elapsed, received, body = recognize(server, photo(args.width, args.height))
        finished = datetime.fromisoformat(body["finished_at"]).timestamp()
        server.add("miss", elapsed)
        server.add("miss wake-up", received - finished)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    if len(ordered) < 2:
        return ordered[0], ordered[0]
    cuts = statistics.quantiles(ordered, n=20, method="inclusive")
    return statistics.median(ordered), cuts[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url", default=os.environ.get("BENCH_BASE_URL", "http://127.0.0.1:8000")
    )
    parser.add_argument("--baseline-url", help="a second server, measured in turns with the first")
    parser.add_argument("--gemini-port", type=int, default=8765)
    parser.add_argument("--gemini-delay", type=float, default=0.3, help="seconds per model answer")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hits", type=int, default=30, help="hits of each kind per round")
    parser.add_argument("--misses", type=int, default=5, help="new photos per round")
    parser.add_argument("--width", type=int, default=2016)
    parser.add_argument("--height", type=int, default=1512)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    standin = AlwaysAnswering(args.gemini_port, args.gemini_delay).start()
    try:
        urls = [args.base_url.rstrip("/")]
        if args.baseline_url:
            urls.append(args.baseline_url.rstrip("/"))
        servers = [Server(url, login(url), photo(args.width, args.height)) for url in urls]
        for server in servers:
            asked = len(standin.requests)
            recognize(server, server.seed)  # the miss that fills the cache
            if len(standin.requests) == asked:
                sys.exit(
                    f"{server.url} did not reach the stand-in: start it with "
                    f"GEMINI_API_KEY={STANDIN_KEY} GEMINI_BASE_URL={standin.url}"
                )
        for _ in range(args.rounds):
            for server in servers:
                round_of(server, args)
    finally:
        standin.stop()

    report: dict = {"load_average": Path("/proc/loadavg").read_text().split()[:3]}
    for server in servers:
        report[server.url] = {}
        for name, samples in server.samples.items():
            p50, p95 = percentiles(samples)
            report[server.url][name] = {
                "p50_ms": round(p50 * 1000, 1),
                "p95_ms": round(p95 * 1000, 1),
                "n": len(samples),
            }
    if len(servers) == 2:
        ours, base = (report[server.url] for server in servers)
        report["ratio_of_p50 (server / baseline)"] = {
            name: round(ours[name]["p50_ms"] / base[name]["p50_ms"], 3)
            for name in ours
            if base[name]["p50_ms"]
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"load average {' '.join(report.pop('load_average'))}")
    for key, value in report.items():
        print(key)
        for name, figures in value.items():
            print(f"  {name:<14} {figures}")


if __name__ == "__main__":
    main()
