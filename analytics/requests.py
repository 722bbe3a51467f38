"""Requests per route and day, for the dashboard's error rate and p95 latency.

Each request adds to a histogram per (UTC day, method, route template) in one Redis hash
per day (one pipelined round trip per request); the nightly rollup turns a day's hash into
RouteDaily rows. Written here rather than read from a Prometheus registry because the
dashboard needs per-day figures that survive restarts, which a process's counters since
start do not give. Without Redis (`make run` with nothing configured) the counts live in
the process's local-memory cache, which is all there is then.
"""

import bisect
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

# Upper bounds of the latency buckets, in milliseconds; one more bucket takes the rest.
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_KEEP = timedelta(days=3)

# The local-memory cache has no atomic hash increments; one process, one lock.
_local_lock = threading.Lock()


@dataclass(frozen=True)
class RouteCounts:
    method: str
    route: str
    requests: int
    errors: int
    buckets: tuple[int, ...]  # one count per BUCKETS_MS bound, then the overflow

    def quantile_ms(self, q: float) -> int:
        """The q-quantile, interpolated linearly inside its bucket (as Prometheus'
        histogram_quantile does); past the last bound, that bound."""
        if not self.requests:
            return 0
        rank = q * self.requests
        seen = 0
        for index, count in enumerate(self.buckets):
            if count and seen + count >= rank:
                if index >= len(BUCKETS_MS):
                    return BUCKETS_MS[-1]
                lower = BUCKETS_MS[index - 1] if index else 0
                upper = BUCKETS_MS[index]
                return round(lower + (upper - lower) * (rank - seen) / count)
            seen += count
        return BUCKETS_MS[-1]


def _key(day: date) -> str:
    return f"analytics:routes:{day.isoformat()}"


def _redis():
    if not hasattr(cache, "client") or not hasattr(cache.client, "get_client"):
        return None  # not django-redis
    return cache.client.get_client(write=True)


def record(*, method: str, route: str, status: int, duration_ms: float) -> None:
    """Counts one request; never raises (a lost count must not fail the request)."""
    bucket = bisect.bisect_left(BUCKETS_MS, duration_ms)
    label = f"{method} {route}"
    fields = [f"{label}|n", f"{label}|b{bucket}"]
    if status >= 500:
        fields.append(f"{label}|e")
    day = timezone.now().date()
    try:
        client = _redis()
        if client is None:
            with _local_lock:
                counter = cache.get(_key(day)) or Counter()
                counter.update(fields)
                cache.set(_key(day), counter, timeout=int(_KEEP.total_seconds()))
            return
        key = cache.make_key(_key(day))
        pipe = client.pipeline(transaction=False)
        for field in fields:
            pipe.hincrby(key, field, 1)
        pipe.expire(key, int(_KEEP.total_seconds()))
        pipe.execute()
    except Exception:  # the cache backend's errors are many; none may reach the client
        logger.debug("Request not counted", exc_info=True)


def counts_for(day: date) -> list[RouteCounts]:
    client = _redis()
    if client is None:
        raw = {field: str(n) for field, n in (cache.get(_key(day)) or Counter()).items()}
    else:
        raw = {
            field.decode(): value.decode()
            for field, value in client.hgetall(cache.make_key(_key(day))).items()
        }
    per_label: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        label, _, kind = field.rpartition("|")
        per_label.setdefault(label, {})[kind] = int(value)
    rows = []
    for label, kinds in per_label.items():
        method, _, route = label.partition(" ")
        rows.append(
            RouteCounts(
                method=method,
                route=route,
                requests=kinds.get("n", 0),
                errors=kinds.get("e", 0),
                buckets=tuple(kinds.get(f"b{i}", 0) for i in range(len(BUCKETS_MS) + 1)),
            )
        )
    return rows
