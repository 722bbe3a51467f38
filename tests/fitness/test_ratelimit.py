"""The fixed-window counters of `fitness.api.ratelimit` on the shared cache (Redis when
configured, where a hit is one pipelined round trip)."""

import pytest
from django.core.cache import cache

from fitness.api import ratelimit


def test_hits_count_up_to_the_limit_and_say_when_the_window_ends():
    states = [ratelimit.hit("test:window", limit=2, window=30) for _ in range(3)]

    assert [state.count for state in states] == [1, 2, 3]
    assert [state.exceeded for state in states] == [False, False, True]
    assert all(1 <= state.retry_after <= 30 for state in states)


def test_counters_always_expire_with_their_window():
    if not hasattr(cache, "ttl"):
        pytest.skip("needs the Redis cache")
    ratelimit.hit("test:expiry", limit=5, window=30)
    count_key, start_key = "rl:test:expiry:n", "rl:test:expiry:t0"
    cache.persist(count_key)  # as if it had expired between the window's start and the INCR

    state = ratelimit.hit("test:expiry", limit=5, window=30)

    assert state.count == 2
    assert 0 < cache.ttl(count_key) <= 30
    assert 0 < cache.ttl(start_key) <= 30


def test_reset_starts_a_new_window():
    ratelimit.hit("test:reset", limit=1, window=30)
    ratelimit.reset("test:reset")

    assert ratelimit.hit("test:reset", limit=1, window=30).count == 1
