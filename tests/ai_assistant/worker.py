"""Real Celery workers for the worker tests: subprocesses on the Redis broker and the test
run's database, and the test process's Celery app pointed at the same broker."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings

from fitness.celery import app

ROOT = Path(__file__).resolve().parents[2]
WORKER_SETTINGS = "tests.ai_assistant.worker_settings"


def broker_transport_options(run_id: str) -> dict:
    return {
        # This run's keys only: the Redis may be shared with other runs and real workers.
        "global_keyprefix": f"test-{run_id}-celery:",
        # A message taken by a worker that died is handed out again after 2 s (not the
        # default hour), and workers look for such messages every second. Tests whose
        # jobs run longer than that on live workers raise it, as production's is 300 s.
        "visibility_timeout": float(os.environ.get("TEST_BROKER_VISIBILITY_TIMEOUT", "2")),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }


@contextmanager
def publishing_to_redis():
    """Tasks queued by this process go to the run's Redis broker instead of running
    eagerly; the workers started by `Worker` consume them."""
    saved = {
        name: app.conf[name]
        for name in ("task_always_eager", "broker_url", "broker_transport_options")
    }
    app.conf.update(
        task_always_eager=False,
        broker_url=settings.REDIS_URL,
        broker_transport_options=broker_transport_options(settings.RUN_ID),
    )
    _drop_pooled_connections()
    try:
        yield
    finally:
        _drop_pooled_connections()
        app.conf.update(saved)
        _delete_broker_keys()


def _drop_pooled_connections() -> None:
    # The app keeps the pools of the broker it first used; forgetting them makes it look
    # up the pools of the broker configured now (Celery resets the same two attributes
    # after a fork). The pools themselves stay open in kombu's registry, for reuse.
    app._pool = None
    app.amqp._producer_pool = None


def _delete_broker_keys() -> None:
    import redis

    prefix = broker_transport_options(settings.RUN_ID)["global_keyprefix"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


class Worker:
    """`celery -A fitness worker` as the operators run it (prefork, acks late), in its own
    process group so that the test can kill the whole tree at once."""

    def __init__(
        self, log_dir: Path, env: dict[str, str], command: list[str] | None = None
    ) -> None:
        """`command` replaces `celery -A fitness worker` (bin/worker, bin/beat); the
        options after it are the same."""
        self.log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        self.env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": WORKER_SETTINGS}
        self.command = command or [sys.executable, "-m", "celery", "-A", "fitness", "worker"]
        self.process: subprocess.Popen | None = None

    def start(self, *options: str) -> "Worker":
        """Starts the worker; `options` replace the defaults below."""
        options = options or (
            "--pool=prefork",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
            f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*self.command, *options],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        """SIGKILL to the main process and its pool children alike, as when a machine or
        container dies: nothing gets to acknowledge, reject or clean up."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM to the main process, as a deploy or scale-down sends it: a warm
        shutdown, which takes nothing new and finishes the running task."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def kill_pool_child(self) -> None:
        """SIGKILL to the pool child running tasks only: the main process lives on and sees
        the child lost (WorkerLostError)."""
        assert self.process is not None
        children = [
            int(stat.parent.name)
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent_pid(stat) == self.process.pid
        ]
        assert children, "the worker has no pool child"
        for pid in children:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _parent_pid(stat: Path) -> int | None:
    try:
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        return int(stat.read_text().rpartition(")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return None  # exited meanwhile


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, worker_log=None):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            log = worker_log() if worker_log else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{log}")
        time.sleep(0.02)
