"""Fixed-window counters in the shared cache (Redis when configured).

Written by hand because DRF's throttles keep a request history list that they read, modify
and write back, which is not atomic across processes; here every hit is one INCR.
"""

import math
import time
from dataclasses import dataclass

from django.core.cache import cache


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


def reset(key: str) -> None:
    cache.delete_many(list(_keys(key)))


def _retry_after(start_key: str, window: int, now: float) -> int:
    started = cache.get(start_key) or now
    return max(1, math.ceil(started + window - now))
