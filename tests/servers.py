"""Real uvicorn processes serving the project on the test database, for tests that need what
only separate processes show (the Redis channel layer between them, a client over real
sockets). They start with the WebSocket options `make run` passes, unless a test asks for
its own."""

import os
import socket
import subprocess
import sys

import pytest
from django.db import connection

# As `make run` starts uvicorn with its defaults.
WS_MAX_SIZE = 1048576
WS_PING_SECONDS = 20
# A graceful stop waits for open sockets' consumers to leave the channel layer, which can
# take a Redis read timeout; past this the process is killed, so no test hangs on it.
STOP_SECONDS = 20
# What a test asserts happened before it stops the servers; uvicorn's own default (wait
# for every socket to close) would spend up to STOP_SECONDS on sockets no test reads again.
GRACEFUL_SHUTDOWN_SECONDS = 1


def process_environment(**env: str) -> dict[str, str]:
    """The environment of a process serving the test run's database (and its Redis key
    prefixes, through TEST_RUN_ID); skips the test without PostgreSQL and Redis."""
    database = connection.settings_dict
    if not os.environ.get("REDIS_URL") or connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL and Redis, which processes can share")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        **env,
    }


def start_servers(
    count: int, *, ping_seconds: int = WS_PING_SECONDS, **env: str
) -> tuple[list[subprocess.Popen], list[str]]:
    """`count` uvicorn processes sharing the Redis channel layer; returns them and their
    `host:port`. Clients may connect at once: each accepts from its backlog once up. They
    ping every `ping_seconds` and drop a socket whose pong is as late."""
    environment = process_environment(**env)
    servers, addresses = [], []
    for _ in range(count):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        servers.append(
            subprocess.Popen(
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
                    *("--ws-ping-interval", str(ping_seconds)),
                    *("--ws-ping-timeout", str(ping_seconds)),
                    *("--ws-max-size", str(WS_MAX_SIZE)),
                    *("--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS)),
                ],
                env=environment,
                pass_fds=[listener.fileno()],
            )
        )
        host, port = listener.getsockname()
        addresses.append(f"{host}:{port}")
        listener.close()
    return servers, addresses


def stop_servers(servers: list[subprocess.Popen], seconds: float = STOP_SECONDS) -> None:
    for server in servers:
        if server.poll() is None:
            server.terminate()
    for server in servers:
        try:
            server.wait(seconds)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
