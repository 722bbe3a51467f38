"""The whole stack behind a real load balancer, as production runs it: Debian's HAProxy with
`deploy/haproxy.cfg` in front of two web processes (`bin/web`), two Celery workers
(`bin/worker`) and one beat (`bin/beat`), on PostgreSQL and Redis, with the Gemini stand-in
behind them; `bin/migrate` runs first, as the release step does.

One scenario, as clients meet it through the balancer: a session made on one process is used
on the other; a batch of food logs; a photo recognition whose job runs on a worker and whose
`job.finished` reaches a socket held by a web process; a chat whose two sockets sit on
different processes and both receive the reply; a kill switch flipped in the database and
answered by both processes at once. Then one web process gets SIGTERM mid-traffic (with a
long poll in flight on it) and the worker running a job gets SIGTERM mid-job: no request
fails with a status a client would not retry, every write lands once, the in-flight request
and the job finish, the job is run once, and the closed sockets (1012) reconnect to the
other process.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ai_assistant.models import RecognitionJob
from food.models import FoodLog
from tests.ai_assistant.conftest import STANDIN_KEY
from tests.ai_assistant.factories import analysis_payload
from tests.ai_assistant.gemini_standin import GeminiStandIn
from tests.ai_assistant.worker import WORKER_SETTINGS, Worker, publishing_to_redis, wait_until
from tests.rollout.switches import set_switch
from tests.servers import STOP_SECONDS, process_environment, stop_servers
from tests.storage.factories import jpeg_bytes

ROOT = Path(__file__).resolve().parents[2]
HAPROXY = shutil.which("haproxy")

pytestmark = [
    pytest.mark.loadbalancer,
    pytest.mark.skipif(
        HAPROXY is None, reason="needs haproxy (Debian's package; .ci/run installs it)"
    ),
    pytest.mark.django_db(transaction=True),  # the processes only see committed rows
]

# Bounds, not expectations: each wait ends as soon as its condition holds.
STARTUP_SECONDS = 45  # five processes importing Django on a shared 2-core machine
TIMEOUT = 10
RETRIES = 5  # what the test's client allows itself for a 502/503/504 or a refused connection
GEMINI_DELAY = 4  # seconds each analysis of the SIGTERM phase takes: the job is mid-run
# After the scenario, what is left running is stopped; how gracefully is not under test.
TEARDOWN_SECONDS = 5
PASSWORD = "A-very-strong-passphrase-42"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    lb: str
    web: dict[str, subprocess.Popen]  # HAProxy's server name -> process
    web_addr: dict[str, str]
    workers: list[Worker]
    beat: Worker
    gemini: GeminiStandIn
    logs: Path

    def log(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.logs.glob("*.log"))
        )


def _popen(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def stack(tmp_path):
    gemini = GeminiStandIn(api_key=STANDIN_KEY).start()
    app_env = {
        "GEMINI_API_KEY": STANDIN_KEY,
        "GEMINI_BASE_URL": gemini.url,
        "WORKER_MEDIA_ROOT": str(tmp_path / "media"),
        "PYTHON": sys.executable,
        "NUM_PROXIES": "1",  # HAProxy
        # Above a job's length, as in production (300 s): the broker hands a running job
        # to another worker only when its worker is lost, not while it works.
        "TEST_BROKER_VISIBILITY_TIMEOUT": "60",
    }
    # The web processes publish to the run's Redis broker, as the workers consume it.
    env = process_environment(**app_env, DJANGO_SETTINGS_MODULE=WORKER_SETTINGS)
    with ExitStack() as cleanup, publishing_to_redis():
        cleanup.callback(gemini.stop)
        # Workers and beat take no traffic, so they start while the release step runs; the
        # web processes only after it, as a deploy orders them.
        workers = [
            Worker(tmp_path, app_env, command=[str(ROOT / "bin/worker")]).start(
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
                f"--hostname=lb-{n}-{uuid.uuid4().hex[:6]}@%h",
            )
            for n in range(2)
        ]
        beat = Worker(tmp_path, app_env, command=[str(ROOT / "bin/beat")]).start(
            "--loglevel=INFO", f"--schedule={tmp_path / 'beat-schedule'}"
        )
        for process in (*workers, beat):
            cleanup.callback(process.kill)
        migrate = subprocess.run(
            [str(ROOT / "bin/migrate")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=STARTUP_SECONDS,
        )
        assert migrate.returncode == 0, migrate.stderr
        assert "No migrations to apply" in migrate.stdout

        web_addr = {name: f"127.0.0.1:{free_port()}" for name in ("web1", "web2")}
        web = {
            name: _popen(
                [str(ROOT / "bin/web")],
                {
                    **env,
                    "HOST": "127.0.0.1",
                    "PORT": addr.split(":")[1],
                    "WEB_CONCURRENCY": "1",  # one process each: the SIGTERM hits the server
                    "WEB_GRACEFUL_SECONDS": "20",
                    "LOG_LEVEL": "WARNING",
                },
                tmp_path / f"{name}.log",
            )
            for name, addr in web_addr.items()
        }
        cleanup.callback(stop_servers, list(web.values()), TEARDOWN_SECONDS)
        lb = f"127.0.0.1:{free_port()}"
        haproxy = _popen(
            [HAPROXY, "-db", "-f", str(ROOT / "deploy/haproxy.cfg")],
            {
                "PATH": os.environ.get("PATH", ""),
                "LB_BIND": lb,
                "WEB_1_ADDR": web_addr["web1"],
                "WEB_2_ADDR": web_addr["web2"],
            },
            tmp_path / "haproxy.log",
        )
        cleanup.callback(stop_servers, [haproxy], TEARDOWN_SECONDS)
        running = Stack(f"http://{lb}", web, web_addr, workers, beat, gemini, tmp_path)

        def both_serve() -> bool:
            # In turn, not only both: a server that has just come up is first given a run
            # of requests to catch up with the other (seen here: every request of the
            # scenario's start on the newcomer), which the scenario would take for one
            # process serving everything.
            served = []
            for _ in range(4):
                with suppress(httpx.HTTPError):
                    response = httpx.get(f"{running.lb}/healthz", timeout=2)
                    if response.status_code == 200:
                        served.append(response.headers.get("X-Served-By"))
            return (
                len(served) == 4
                and set(served) == {"web1", "web2"}
                and all(one != other for one, other in pairwise(served))
            )

        wait_until(
            both_serve,
            timeout=STARTUP_SECONDS,
            what="both web processes behind HAProxy",
            worker_log=running.log,
        )
        yield running


def call(
    client: httpx.Client, method: str, path: str, retried: list | None = None, **kwargs
) -> httpx.Response:
    """A request as the app makes it: a refused connection, 502, 503 or 504 is retried
    (every write here carries a client id, so a retry cannot store twice), and noted in
    `retried`; anything else, a 500 above all, is the answer."""
    for attempt in range(RETRIES + 1):
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            if attempt == RETRIES:
                raise
            failure: object = type(exc).__name__
        else:
            if response.status_code not in (502, 503, 504) or attempt == RETRIES:
                return response
            failure = response.status_code
        if retried is not None:
            retried.append(failure)
        time.sleep(0.2)
    raise AssertionError("unreachable")


@dataclass
class Socket:
    connection: ClientConnection
    served_by: str

    def frame(self) -> dict:
        return json.loads(self.connection.recv(timeout=TIMEOUT))

    def frame_of(self, kind: str) -> dict:
        """The next frame of this type, skipping others (bounded by TIMEOUT per frame)."""
        for _ in range(50):
            frame = self.frame()
            if frame["type"] == kind:
                return frame
        raise AssertionError(f"no {kind} frame")


def open_socket(
    stack: Stack, sockets: ExitStack, path: str, token: str, *, on: str | None = None
) -> Socket:
    """A socket through HAProxy, closed with `sockets`; with `on`, reopened (a bounded
    number of times) until the balancer puts it on that process."""
    for _ in range(8):
        attempt = ExitStack()
        connection = attempt.enter_context(
            connect(
                f"ws://{stack.lb.removeprefix('http://')}{path}",
                additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=TIMEOUT,
            )
        )
        served_by = connection.response.headers["X-Served-By"]
        if on is None or served_by == on:
            sockets.push(attempt)
            opened = Socket(connection, served_by)
            assert opened.frame()["type"] == "connected"
            return opened
        attempt.close()
    raise AssertionError(f"HAProxy never put {path} on {on}")


def close_code(sock: Socket) -> int:
    """Waits for the server to close the socket; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(50):
            sock.connection.recv(timeout=TIMEOUT)
    return closed.value.rcvd.code if closed.value.rcvd else 1006


@dataclass
class Traffic:
    """Food-log writes (each with its client id) and reads through the balancer from a
    thread, until stopped or its bound is reached."""

    client: httpx.Client
    headers: dict[str, str]
    bound: int = 400
    statuses: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    served: set[str] = field(default_factory=set)
    retried: list = field(default_factory=list)  # what the client had to retry
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            for n in range(self.bound):
                if self.stop.is_set():
                    return
                log_id = str(uuid.uuid4())
                self.ids.append(log_id)
                created = call(
                    self.client,
                    "POST",
                    "/api/v1/food/logs",
                    self.retried,
                    json={"id": log_id, "name": f"Snack {n}", "calories": 100 + n},
                    headers=self.headers,
                )
                listed = call(
                    self.client, "GET", "/api/v1/food/logs", self.retried, headers=self.headers
                )
                for response in (created, listed):
                    self.statuses.append(response.status_code)
                    self.served.add(response.headers.get("X-Served-By", "?"))
        except BaseException as exc:  # reported by the test, not lost with the thread
            self.error = exc


def analyses_requested(gemini: GeminiStandIn) -> int:
    return sum(1 for request in gemini.requests if "generateContent" in request.action)


def recognitions_received(worker: Worker) -> int:
    return sum(
        1 for line in worker.log().splitlines() if "recognize_food[" in line and "received" in line
    )


def test_stack_behind_haproxy_serves_across_processes_and_survives_sigterm(stack):
    with ExitStack() as sockets:
        _scenario(stack, sockets)


def _scenario(stack: Stack, sockets: ExitStack) -> None:
    client = httpx.Client(base_url=stack.lb, timeout=TIMEOUT)

    # --- a session made on one process works on the other ------------------------------
    registered = client.post(
        "/api/v1/auth/register",
        json={"email": "lb@example.com", "password": PASSWORD, "name": "Balanced"},
    )
    assert registered.status_code == 201, stack.log()
    login = client.post(
        "/api/v1/auth/login", json={"email": "lb@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200
    token = login.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    me = [client.get("/api/v1/auth/me", headers=auth) for _ in range(4)]
    assert [response.status_code for response in me] == [200] * 4
    assert {response.headers["X-Served-By"] for response in me} == {"web1", "web2"}

    # --- a batch of food logs, read back from both processes ---------------------------
    batch = [{"id": str(uuid.uuid4()), "name": f"Meal {n}", "calories": 300 + n} for n in range(20)]
    created = client.post("/api/v1/food/logs/batch", json={"items": batch}, headers=auth)
    assert created.status_code == 201
    assert created.json()["created"] == 20
    lists = [client.get("/api/v1/food/logs?page_size=50", headers=auth) for _ in range(2)]
    assert {response.headers["X-Served-By"] for response in lists} == {"web1", "web2"}
    assert all(response.json()["total"] == 20 for response in lists)

    # --- a recognition job on a worker; its event crosses to a web process's socket -----
    events = open_socket(stack, sockets, "/ws/events/", token)
    for _ in range(2):
        stack.gemini.reply_json(analysis_payload(food_name="Shakshuka"))
    started = client.post(
        "/api/v1/ai/food/recognize",
        files={"image": ("meal.jpg", jpeg_bytes(), "image/jpeg")},
        headers=auth,
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    finished = events.frame_of("job.finished")
    assert (finished["job_id"], finished["status"]) == (job_id, "succeeded")
    assert sum(recognitions_received(worker) for worker in stack.workers) == 1

    # --- a chat with two sockets on different processes: both get the reply -------------
    session = client.post("/api/v1/ai/chat/start", json={}, headers=auth).json()["session_id"]
    chat_path = f"/ws/ai/chat/{session}/"
    chat_on = {
        name: open_socket(stack, sockets, chat_path, token, on=name) for name in ("web1", "web2")
    }
    stack.gemini.stream(["Eat ", "more ", "greens."])
    chat_on["web1"].connection.send(json.dumps({"type": "message", "content": "Tips?"}))
    for sock in chat_on.values():
        reply = sock.frame_of("ai_response")
        assert reply["data"]["data"]["reply"]["content"] == "Eat more greens."

    # --- a kill switch flipped once is answered by both processes at once ----------------
    set_switch("ai_chat", active=False)
    refused = [
        client.post(f"/api/v1/ai/chat/{session}/msg", json={"message": "hi"}, headers=auth)
        for _ in range(2)
    ]
    assert [r.status_code for r in refused] == [503, 503]
    assert {r.json()["error"]["code"] for r in refused} == {"feature_disabled"}
    assert {r.headers["X-Served-By"] for r in refused} == {"web1", "web2"}
    set_switch("ai_chat", active=True)

    # --- SIGTERM to web1 mid-traffic and to the worker running a job, mid-job ------------
    events = open_socket(stack, sockets, "/ws/events/", token, on="web1")
    before = analyses_requested(stack.gemini)
    received_before = [recognitions_received(worker) for worker in stack.workers]
    for _ in range(2):
        stack.gemini.reply_json(analysis_payload(food_name="Ramen"), delay=GEMINI_DELAY)
    started = call(
        client,
        "POST",
        "/api/v1/ai/food/recognize",
        # Another photo: the first one's analysis is cached and would need no model.
        files={"image": ("ramen.jpg", jpeg_bytes((80, 60)), "image/jpeg")},
        headers=auth,
    )
    assert started.status_code == 202
    slow_job = started.json()["id"]
    wait_until(
        lambda: (
            RecognitionJob.objects.get(pk=slow_job).status == "running"
            and analyses_requested(stack.gemini) > before
        ),
        timeout=TIMEOUT,
        what="the job running on a worker",
        worker_log=stack.log,
    )
    running_on = next(
        worker
        for worker, count in zip(stack.workers, received_before, strict=True)
        if recognitions_received(worker) > count
    )
    other_worker = next(worker for worker in stack.workers if worker is not running_on)

    # A long poll in flight on web1 itself, past its SIGTERM.
    long_poll: dict = {}
    poller = threading.Thread(
        target=lambda: long_poll.update(
            response=httpx.get(
                f"http://{stack.web_addr['web1']}/api/v1/ai/jobs/{slow_job}",
                headers={**auth, "Prefer": "wait=20"},
                timeout=30,
            )
        )
    )
    traffic = Traffic(httpx.Client(base_url=stack.lb, timeout=TIMEOUT), auth)
    mover = threading.Thread(target=traffic.run)
    poller.start()
    mover.start()
    wait_until(lambda: len(traffic.statuses) >= 6, timeout=TIMEOUT, what="traffic flowing")

    stack.web["web1"].send_signal(signal.SIGTERM)
    running_on.terminate()

    # The sockets web1 held are closed as a restart (1012) and reconnect to web2.
    assert close_code(events) == 1012
    assert close_code(chat_on["web1"]) == 1012
    again = open_socket(stack, sockets, "/ws/events/", token)
    chat_again = open_socket(stack, sockets, chat_path, token)
    assert (again.served_by, chat_again.served_by) == ("web2", "web2")

    # The in-flight long poll is answered by the stopping process once the job is done,
    # by the stopping worker, once.
    poller.join(30)
    assert long_poll["response"].status_code == 200, long_poll
    assert long_poll["response"].json()["status"] == "succeeded"
    job = RecognitionJob.objects.get(pk=slow_job)
    assert (job.status, job.attempts) == ("succeeded", 1)
    assert analyses_requested(stack.gemini) == before + 2
    assert recognitions_received(other_worker) == received_before[stack.workers.index(other_worker)]
    assert running_on.process.wait(TIMEOUT + GEMINI_DELAY) == 0, running_on.log()
    # uvicorn re-raises the SIGTERM it handled once it has shut down gracefully.
    assert stack.web["web1"].wait(STOP_SECONDS) == -signal.SIGTERM, stack.log()

    # Traffic went on through web2 after web1 left.
    wait_until(
        lambda: (
            traffic.error is not None or ("web2" in traffic.served and len(traffic.statuses) >= 30)
        ),
        timeout=TIMEOUT * 2,
        what="traffic after the SIGTERM",
    )
    traffic.stop.set()
    mover.join(TIMEOUT * 2)
    assert traffic.error is None, traffic.error
    assert set(traffic.statuses) <= {200, 201}, traffic.statuses
    # What HAProxy did not re-send itself, the client retried (bounded); shown for the record.
    print(f"traffic: {len(traffic.statuses)} answers, client retries: {traffic.retried}")
    # Each write landed exactly once (a client id stores one row however often it is sent).
    assert FoodLog.objects.filter(id__in=traffic.ids).count() == len(traffic.ids)

    # The other worker and the beat are still up; the reconnected chat still answers.
    stack.gemini.stream(["Yes."])
    chat_again.connection.send(json.dumps({"type": "message", "content": "Still there?"}))
    assert chat_again.frame_of("ai_response")["data"]["data"]["reply"]["content"] == "Yes."
    assert other_worker.process.poll() is None
    assert stack.beat.process.poll() is None
    assert "beat: Starting" in stack.beat.log()
    assert stack.gemini.unscripted == 0
