"""Fixed-window counters in the shared cache (Redis when configured).

Written by hand because DRF's throttles keep a request history list that they read, modify
and write back, which is not atomic across processes; here every hit is one INCR. On Redis
a hit is one round trip (a MULTI/EXEC pipeline), since it sits on the path of requests
that wait for it (a chat message waits for its allowance before the model is asked).
"""

import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from django_redis.client import DefaultClient


@dataclass(frozen=True)
class WindowState:
    count: int
    limit: int
    retry_after: int

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


def _keys(key: str) -> tuple[str, str]:
    return f"rl:{key}:n", f"rl:{key}:t0"


def hit(key: str, *, limit: int, window: int) -> WindowState:
    """Counts one event in the window that started with the first event."""
    count_key, start_key = _keys(key)
    now = time.time()
    client = getattr(cache, "client", None)
    if isinstance(client, DefaultClient):
        return _hit_pipelined(client, count_key, start_key, limit=limit, window=window, now=now)
    cache.add(start_key, now, timeout=window)
    cache.add(count_key, 0, timeout=window)
    try:
        count = cache.incr(count_key)
    except ValueError:
        # The window expired between add() and incr(): this event opens a new one.
        cache.set(start_key, now, timeout=window)
        cache.set(count_key, 1, timeout=window)
        count = 1
    return WindowState(count=count, limit=limit, retry_after=_retry_after(start_key, window, now))


def _hit_pipelined(
    client: DefaultClient, count_key: str, start_key: str, *, limit: int, window: int, now: float
) -> WindowState:
    """`hit` in one round trip, on the same keys and values as the cache's own calls."""
    count_raw, start_raw = client.make_key(count_key), client.make_key(start_key)
    pipeline = client.get_client(write=True).pipeline(transaction=True)
    pipeline.set(start_raw, client.encode(now), nx=True, ex=window)
    pipeline.set(count_raw, client.encode(0), nx=True, ex=window)
    pipeline.incr(count_raw)
    # Only if it has none: an INCR on a key that expired just before would otherwise
    # leave a counter that never expires.
    pipeline.expire(count_raw, window, nx=True)
    pipeline.get(start_raw)
    *_, count, _, started = pipeline.execute()
    started = client.decode(started) if started is not None else now
    return WindowState(
        count=count, limit=limit, retry_after=max(1, math.ceil(started + window - now))
    )


def reset(key: str) -> None:
    cache.delete_many(list(_keys(key)))


def _retry_after(start_key: str, window: int, now: float) -> int:
    started = cache.get(start_key) or now
    return max(1, math.ceil(started + window - now))
