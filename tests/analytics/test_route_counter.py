"""The route counter keeps counts in memory and writes them within FLUSH_SECONDS, at exit
or on a read: no request waits for Redis, and no count is lost to a failed write."""

import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from analytics import requests

pytestmark = [
    pytest.mark.django_db,
    # The counts are read as Redis holds them (the in-memory cache has no such hash).
    pytest.mark.skipif(
        not settings.REDIS_URL, reason="needs REDIS_URL: the counter writes to Redis"
    ),
]

ROUTE = "/api/v1/food/logs"


def _stored() -> dict[str, int]:
    """The day's hash as Redis holds it, read without flushing."""
    key = cache.make_key(f"analytics:routes:{timezone.now().date().isoformat()}")
    raw = cache.client.get_client(write=True).hgetall(key)
    return {field.decode(): int(value) for field, value in raw.items()}


def _requests(route: str) -> int:
    return {row.route: row.requests for row in requests.counts_for(timezone.now().date())}.get(
        route, 0
    )


def test_requests_reach_redis_on_the_timer_without_a_read(monkeypatch):
    monkeypatch.setattr(requests, "FLUSH_SECONDS", 0.05)
    requests.record(method="GET", route=ROUTE, status=200, duration_ms=3)
    requests.record(method="GET", route=ROUTE, status=500, duration_ms=30)
    deadline = time.monotonic() + 5
    while f"GET {ROUTE}|n" not in _stored() and time.monotonic() < deadline:
        time.sleep(0.02)
    stored = _stored()
    assert stored[f"GET {ROUTE}|n"] == 2
    assert stored[f"GET {ROUTE}|e"] == 1


def test_a_failed_write_keeps_the_counts_for_the_next_flush(monkeypatch):
    # One attempt: redis-py's default ten retries with backoff would only add seconds.
    unreachable = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    working = requests._redis
    monkeypatch.setattr(requests, "_redis", lambda: unreachable)
    for _ in range(3):
        requests.record(method="POST", route=ROUTE, status=201, duration_ms=8)
    requests.flush()  # fails: Redis cannot be reached, and the counts stay pending
    monkeypatch.setattr(requests, "_redis", working)
    assert f"POST {ROUTE}|n" not in _stored()
    assert _requests(ROUTE) == 3
    requests.record(method="POST", route=ROUTE, status=201, duration_ms=8)
    assert _requests(ROUTE) == 4
