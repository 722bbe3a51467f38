"""Chat socket benchmark: the server's work from a message to the model's request, and from
the model's first chunk to the client's first delta frame.

Runs its own stand-in for Gemini (the streaming REST protocol google-genai speaks:
`POST /v1beta/models/{model}:streamGenerateContent?alt=sse`, answered with server-sent
events, one `GenerateContentResponse` per `data:` line in its own HTTP chunk), and unless
`--base-url` names a running server, starts one uvicorn process (`fitness.asgi`) pointed
at it (GEMINI_BASE_URL), after `manage.py migrate`. It registers a user through the API,
seeds a week of food logs and a few workouts (so the coach's personal context has rows to
read), starts a conversation, opens `/ws/ai/chat/{session}/` and sends `--messages`
messages one after another, each after the previous reply's final `ai_response` frame and
a `--pause` (a person reading it). For every message it measures, on one clock (client and
stand-in share this process):

- server work: socket send → the stand-in has read the whole model request;
- first-delta gap: the stand-in writes its first chunk → the client has the first
  `ai_response.delta` frame.

It prints p50/p95/p99 of both, and for a server it started, the server process's CPU time
per message (the whole turn: the ask, the reply, what comes after; a figure the load of a
shared machine disturbs far less than the latencies). `--json`: one JSON object.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/chat.py [--messages 100] [--runs 3]

With `--compare DIR` (a checkout of other code, e.g. `git worktree add /tmp/base main`, or
`git archive main | tar -x -C /tmp/base`), it starts a second server from DIR on the same
database, Redis and stand-in, and alternates runs between the two (`--runs` each), so both
meet the same load; it prints both and the ratio of the medians.

With `--base-url`, that server must already send Gemini's requests to this stand-in:
start it with GEMINI_BASE_URL=http://127.0.0.1:PORT and GEMINI_API_KEY=bench-key and pass
`--standin-port PORT` (and a high AI_RATE_CHAT, since every message counts).
"""

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
API = "/api/v1"
STANDIN_KEY = "bench-key"
CHUNKS = ["Three ", "sets ", "of ", "ten ", "squats, ", "then ", "rest."]
STARTUP_SECONDS = 90


class StandIn:
    """Gemini's streaming endpoint on 127.0.0.1: notes when each request has arrived in
    full and when its first chunk goes out."""

    def __init__(self) -> None:
        self.received: list[float] = []
        self.first_chunk: list[float] = []
        self.server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.received.append(time.perf_counter())
                await self._answer(lines[0], headers, body, writer)
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, request_line: str, headers: dict, body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        if ":streamGenerateContent" not in request_line or headers.get("x-goog-api-key") != (
            STANDIN_KEY
        ):
            error = json.dumps({"error": {"code": 400, "message": "bench", "status": "x"}})
            writer.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(error)}\r\n\r\n{error}".encode()
            )
            await writer.drain()
            return
        json.loads(body)  # a request the SDK sent is JSON
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for index, text in enumerate(CHUNKS):
            event = {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}}]}
            if index == len(CHUNKS) - 1:
                event["candidates"][0]["finishReason"] = "STOP"
                event["usageMetadata"] = {
                    "promptTokenCount": 900,
                    "candidatesTokenCount": len(CHUNKS),
                    "totalTokenCount": 900 + len(CHUNKS),
                }
            data = f"data: {json.dumps(event)}\r\n\r\n".encode()
            if index == 0:
                self.first_chunk.append(time.perf_counter())
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()


@dataclass
class Samples:
    server_work: list[float] = field(default_factory=list)
    first_delta: list[float] = field(default_factory=list)


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
    }


def start_server(standin_port: int, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    env = {
        "DEBUG": "true",
        **os.environ,
        "GEMINI_API_KEY": STANDIN_KEY,
        "GEMINI_BASE_URL": f"http://127.0.0.1:{standin_port}",
        "AI_RATE_CHAT": "100000/hour",
        "THROTTLE_REGISTER": "1000/hour",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=root,
        env=env,
        check=True,
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "fitness.asgi:application",
            "--fd",
            str(listener.fileno()),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=root,
        env=env,
        pass_fds=[listener.fileno()],
    )
    host, port = listener.getsockname()
    listener.close()
    return server, f"http://{host}:{port}"


def seed(base_url: str) -> tuple[str, str]:
    """A fresh user with a week of meals and three workouts; its token and a conversation."""
    email = f"bench-chat-{secrets.token_hex(6)}@example.com"
    deadline = time.monotonic() + STARTUP_SECONDS
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while True:
            try:
                response = client.post(
                    f"{API}/auth/register",
                    json={"email": email, "password": secrets.token_urlsafe(18), "name": "Bench"},
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    sys.exit(f"No server at {base_url}")
                time.sleep(0.3)
        if response.status_code == 429:
            sys.exit("Registration is rate-limited: raise THROTTLE_REGISTER on the server.")
        response.raise_for_status()
        token = response.json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        hour = 3600
        items = [
            {
                "name": f"Meal {n}",
                "calories": 300 + 40 * n,
                "protein": 20,
                "carbs": 40,
                "fat": 10,
                "meal_type": ("breakfast", "lunch", "dinner")[n % 3],
                "timestamp": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - n * 8 * hour)
                ),
            }
            for n in range(21)
        ]
        client.post(f"{API}/food/logs/batch", json={"items": items}).raise_for_status()
        for n in range(3):
            sets = [{"reps": 8, "weight": {"value": 60 + 5 * k, "unit": "kg"}} for k in range(3)]
            client.post(
                f"{API}/workouts",
                json={
                    "name": f"Strength {n}",
                    "type": "strength",
                    "duration": 50,
                    "completed": True,
                    "exercises": [
                        {"name": "Squat", "set_logs": sets},
                        {"name": "Bench press", "set_logs": sets},
                    ],
                },
            ).raise_for_status()
        started = client.post(f"{API}/ai/chat/start", json={"context": {"screen": "home"}})
        started.raise_for_status()
        return token, started.json()["session_id"]


async def chat(ws_url: str, token: str, standin: StandIn, messages: int, pause: float) -> Samples:
    samples = Samples()
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(ws_url, additional_headers=headers, max_size=2**22) as websocket:
        assert json.loads(await websocket.recv())["type"] == "connected"
        for n in range(messages):
            before = len(standin.received)
            sent = time.perf_counter()
            await websocket.send(json.dumps({"type": "message", "content": f"Leg day {n}?"}))
            first_delta = None
            while True:
                frame = json.loads(await asyncio.wait_for(websocket.recv(), 30))
                if frame["type"] == "ai_response.delta" and first_delta is None:
                    first_delta = time.perf_counter()
                elif frame["type"] == "ai_response":
                    break
                elif frame["type"] == "error":
                    sys.exit(f"The server answered an error frame: {frame}")
            if len(standin.received) != before + 1 or first_delta is None:
                sys.exit("The stand-in did not see exactly one request for the message.")
            samples.server_work.append(standin.received[-1] - sent)
            samples.first_delta.append(first_delta - standin.first_chunk[-1])
            await asyncio.sleep(pause)
    return samples


def cpu_seconds(process: subprocess.Popen | None) -> float | None:
    """User + system CPU time of a process (Linux), None when it is not ours or unknown."""
    if process is None:
        return None
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    name: str
    base_url: str
    server: subprocess.Popen | None = None
    ws_url: str = ""
    token: str = ""
    runs: list[dict] = field(default_factory=list)


async def measure(target: Target, standin: StandIn, args: argparse.Namespace) -> None:
    before = cpu_seconds(target.server)
    samples = await chat(target.ws_url, target.token, standin, args.messages, args.pause)
    after = cpu_seconds(target.server)
    run = {
        "server_work": percentiles(samples.server_work),
        "first_delta": percentiles(samples.first_delta),
    }
    if before is not None and after is not None:
        run["cpu_ms_per_message"] = round((after - before) * 1000 / args.messages, 1)
    target.runs.append(run)


async def bench(args: argparse.Namespace) -> dict:
    load_before = _loadavg()
    standin = StandIn()
    port = await standin.start(args.standin_port)
    targets: list[Target] = []
    try:
        if args.base_url:
            targets.append(Target("server", args.base_url.rstrip("/")))
        else:
            server, url = start_server(port)
            targets.append(Target("server", url, server))
        if args.compare:
            server, url = start_server(port, Path(args.compare).resolve())
            targets.append(Target("compare", url, server))
        for target in targets:
            target.token, session = await asyncio.to_thread(seed, target.base_url)
            target.ws_url = f"{target.base_url.replace('http', 'ws', 1)}/ws/ai/chat/{session}/"
            # A few unmeasured messages first: imports, connection pools and caches warm up.
            await chat(target.ws_url, target.token, standin, args.warmup, args.pause)
        for _ in range(args.runs):
            for target in targets:
                await measure(target, standin, args)
    finally:
        await standin.stop()
        for target in targets:
            if target.server is not None:
                target.server.terminate()
                try:
                    target.server.wait(20)
                except subprocess.TimeoutExpired:
                    target.server.kill()
    return {
        "messages": args.messages,
        "targets": {target.name: summary(target.runs) for target in targets},
        "loadavg": f"{load_before} (start), {_loadavg()} (end)",
    }


def summary(runs: list[dict]) -> dict:
    medians: dict = {}
    for name in ("server_work", "first_delta"):
        medians[name] = {
            key: round(statistics.median(run[name][key] for run in runs), 1)
            for key in ("p50_ms", "p95_ms", "p99_ms")
        }
    cpu = [run["cpu_ms_per_message"] for run in runs if "cpu_ms_per_message" in run]
    if cpu:
        medians["cpu_ms_per_message"] = round(statistics.median(cpu), 1)
    return {"runs": runs, "median": medians}


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="", help="a running server (else one is started)")
    parser.add_argument("--standin-port", type=int, default=0, help="the stand-in's port")
    parser.add_argument("--messages", type=int, default=100, help="messages timed per run")
    parser.add_argument("--runs", type=int, default=3, help="runs (one socket each)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed messages first")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between messages")
    parser.add_argument("--compare", default="", help="a checkout to run side by side")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.messages} messages per run, load average {result['loadavg']}")
    titles = {"server_work": "socket send -> Gemini request", "first_delta": "first chunk -> delta"}
    for name, target in result["targets"].items():
        print(f"{name}:")
        for index, run in enumerate(target["runs"], 1):
            cpu = run.get("cpu_ms_per_message")
            print(
                f"  run {index}: "
                + "; ".join(
                    f"{titles[key]} p50 {run[key]['p50_ms']} p95 {run[key]['p95_ms']} ms"
                    for key in titles
                )
                + (f"; server CPU {cpu} ms/message" if cpu is not None else "")
            )
        median = target["median"]
        for key, title in titles.items():
            figures = median[key]
            print(
                f"  median of runs, {title}: p50 {figures['p50_ms']} ms, "
                f"p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms"
            )
        if "cpu_ms_per_message" in median:
            print(f"  median of runs, server CPU per message: {median['cpu_ms_per_message']} ms")
    if "compare" in result["targets"]:
        ours, theirs = (result["targets"][name]["median"] for name in ("server", "compare"))
        for key, title in titles.items():
            for cut in ("p50_ms", "p95_ms"):
                if ours[key][cut]:
                    ratio = theirs[key][cut] / ours[key][cut]
                    print(f"  {title} {cut[:3]}: compare / server = {ratio:.2f}x")
        if ours.get("cpu_ms_per_message"):
            ratio = theirs["cpu_ms_per_message"] / ours["cpu_ms_per_message"]
            print(f"  server CPU per message: compare / server = {ratio:.2f}x")


if __name__ == "__main__":
    main()
