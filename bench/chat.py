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

It prints p50/p95/p99 of both (`--json`: one JSON object).

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/chat.py [--messages 100] [--runs 3]

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


def start_server(standin_port: int) -> tuple[subprocess.Popen, str]:
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
        cwd=ROOT,
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
        cwd=ROOT,
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


async def bench(args: argparse.Namespace) -> dict:
    standin = StandIn()
    port = await standin.start(args.standin_port)
    server = None
    try:
        if args.base_url:
            base_url = args.base_url.rstrip("/")
        else:
            server, base_url = start_server(port)
        token, session = await asyncio.to_thread(seed, base_url)
        ws_url = f"{base_url.replace('http', 'ws', 1)}/ws/ai/chat/{session}/"
        # A few unmeasured messages first: imports, connection pools and caches warm up.
        await chat(ws_url, token, standin, args.warmup, args.pause)
        runs = []
        for _ in range(args.runs):
            samples = await chat(ws_url, token, standin, args.messages, args.pause)
            runs.append(
                {
                    "server_work": percentiles(samples.server_work),
                    "first_delta": percentiles(samples.first_delta),
                }
            )
    finally:
        await standin.stop()
        if server is not None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
    return {"messages": args.messages, "runs": runs, "loadavg": _loadavg()}


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
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.messages} messages per run, load average {result['loadavg']}")
    for name, title in (
        ("server_work", "socket send -> Gemini request"),
        ("first_delta", "first chunk -> first delta "),
    ):
        for index, run in enumerate(result["runs"], 1):
            figures = run[name]
            print(
                f"  {title}  run {index}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
                f"p99 {figures['p99_ms']} ms"
            )
        medians = {
            key: statistics.median(run[name][key] for run in result["runs"])
            for key in ("p50_ms", "p95_ms", "p99_ms")
        }
        print(
            f"  {title}  median of runs: p50 {medians['p50_ms']} ms, p95 {medians['p95_ms']} ms, "
            f"p99 {medians['p99_ms']} ms"
        )


if __name__ == "__main__":
    main()
