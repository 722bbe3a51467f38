import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient

from accounts import tokens
from analytics import requests as analytics_requests
from tests.factories import UserFactory
from tests.frames import check_server_frame


@pytest.fixture(scope="session")
def django_db_modify_db_settings_xdist_suffix() -> None:
    """pytest-django would add the xdist worker's id to the test database's name a second
    time: tests/settings.py already names it per worker, and the processes the tests start
    (which pytest-django never sees) derive the same name from there."""


@pytest.fixture(scope="session", autouse=True)
def _close_connection_pools(django_db_setup):
    """Pooled connections (PostgreSQL) would otherwise keep the test database busy, and
    pytest-django could not drop it at the end of the run."""
    yield
    for connection in connections.all():
        if getattr(connection, "pool", None) is not None:
            connection.close_pool()


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache (rate-limit counters, denylist)."""
    _clear()
    yield
    _clear()


def _clear() -> None:
    # Counts a test's requests left pending would otherwise reach the next test's Redis.
    analytics_requests.flush()
    if hasattr(cache, "delete_pattern"):
        # Only this run's keys: the Redis database may be shared with other runs.
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.issue_pair(user)['access_token']}")
    return client


@pytest.fixture
def auth_client(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return client_for(other_user)


_receive_json_from = WebsocketCommunicator.receive_json_from


async def _documented_frame(self, timeout=1):
    """Every frame a test receives is one clients/asyncapi.yaml describes."""
    frame = await _receive_json_from(self, timeout)
    check_server_frame(self.scope["path"], frame)
    return frame


@pytest.fixture(autouse=True)
def _check_frames(monkeypatch):
    monkeypatch.setattr(WebsocketCommunicator, "receive_json_from", _documented_frame)


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test gets a channel layer of its own, as it gets an event loop of its own.

    The layer is cached for the process, and a Redis layer's receive lock belongs to the
    loop it was taken in: a consumer cancelled mid-receive when its test ended can leave
    it held, and every later test's consumer then fails on it. Which tests follow which
    depends on how pytest-xdist shares them out, so no test may inherit one.
    """
    yield
    channel_layers.backends = {}


@pytest.fixture(autouse=True)
async def _disconnect_test_sockets(monkeypatch):
    """Every WebSocket a test opens is disconnected when the test ends.

    A consumer that closed the socket itself (4401, 4404) still waits on the channel layer
    until the client says it has gone; left waiting when the test's event loop closes, its
    cancelled Redis read can keep the loop from closing at all. Each gets a second to end
    after the disconnect (tests/fitness/test_channel_layers.py proves a refused one does),
    then is cancelled and awaited, not left.
    """
    opened: list[WebsocketCommunicator] = []
    original = WebsocketCommunicator.__init__

    def tracked(self, *args, **kwargs):
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(WebsocketCommunicator, "__init__", tracked)
    yield
    for socket in opened:
        if not socket.future.done():
            await socket.disconnect(timeout=1)
