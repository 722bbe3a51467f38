"""Requests per route and day, for the dashboard's error rate and p95 latency.

Each request adds to a histogram per (UTC day, method, route template) in one Redis hash
per day; the nightly rollup turns a day's hash into RouteDaily rows.

A request only adds to this process's pending counts, in memory; a timer thread writes
them to Redis in one pipelined round trip within FLUSH_SECONDS, and so does the process's
exit (uvicorn's and gunicorn's graceful shutdown, on SIGTERM) and any read here. A Redis
round trip per request was about 6% of a list request's time (bench/profile_request.py).
What this costs: a process killed outright (SIGKILL, the OOM killer) loses at most its
last FLUSH_SECONDS of counts; in exchange a failed write (Redis down) no longer loses the
request's count, which stays pending for the next flush. Pending counts are bounded by
the number of (day, route, method, bucket) labels, not by traffic.

Written here rather than read from a Prometheus registry because the dashboard needs
per-day figures that survive restarts, which a process's counters since start do not
give. Without Redis (`make run` with nothing configured) the counts live in the
process's local-memory cache, which is all there is then.
"""

import atexit
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


FLUSH_SECONDS = 1.0

_pending: Counter = Counter()  # (day, field) -> requests not yet written
_pending_lock = threading.Lock()
_timer: threading.Timer | None = None


def record(*, method: str, route: str, status: int, duration_ms: float) -> None:
    """Counts one request, in memory (written by `flush`); never raises or waits."""
    global _timer
    bucket = bisect.bisect_left(BUCKETS_MS, duration_ms)
    label = f"{method} {route}"
    day = timezone.now().date()
    with _pending_lock:
        _pending[day, f"{label}|n"] += 1
        _pending[day, f"{label}|b{bucket}"] += 1
        if status >= 500:
            _pending[day, f"{label}|e"] += 1
        if _timer is None:
            _timer = threading.Timer(FLUSH_SECONDS, flush)
            _timer.daemon = True
            _timer.start()


def flush() -> None:
    """Writes this process's pending counts; never raises (what fails stays pending)."""
    global _pending, _timer
    with _pending_lock:
        taken, _pending = _pending, Counter()
        if _timer is not None:
            _timer.cancel()
            _timer = None
    if not taken:
        return
    try:
        _write(taken)
    except Exception:  # the cache backend's errors are many; the counts wait for the next
        logger.debug("Request counts not written yet", exc_info=True)
        with _pending_lock:
            _pending.update(taken)


atexit.register(flush)


def _write(counts: Counter) -> None:
    ttl = int(_KEEP.total_seconds())
    client = _redis()
    if client is None:
        with _local_lock:
            for day in {day for day, _ in counts}:
                counter = cache.get(_key(day)) or Counter()
                counter.update({field: n for (d, field), n in counts.items() if d == day})
                cache.set(_key(day), counter, timeout=ttl)
        return
    pipe = client.pipeline(transaction=False)
    for (day, field), n in counts.items():
        pipe.hincrby(cache.make_key(_key(day)), field, n)
    for day in {day for day, _ in counts}:
        pipe.expire(cache.make_key(_key(day)), ttl)
    pipe.execute()


def counts_for(day: date) -> list[RouteCounts]:
    flush()
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
