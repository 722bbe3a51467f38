"""The AI paths with Redis down: the per-user allowance fails closed (it protects the
Gemini bill); the result cache is only a cache, so an admitted job goes on without it."""

import logging

import pytest

from ai_assistant.client import get_ai_client
from ai_assistant.limits import enforce_rate_limit
from ai_assistant.recognition.pipeline import analyze_photo
from ai_assistant.responses import AIResultSource
from fitness.api.errors import BACKEND_OUTAGES
from tests.ai_assistant.factories import analysis_payload
from tests.redis_server import RedisServer, needs_redis_server, point_at
from tests.storage.factories import jpeg_bytes

pytestmark = [needs_redis_server, pytest.mark.django_db]


@pytest.fixture
def own_redis(settings):
    server = RedisServer().start()
    point_at(settings, server)
    yield server
    server.stop()


def test_ai_allowance_fails_closed_without_redis(own_redis, user, gemini):
    client = get_ai_client()
    enforce_rate_limit(user=user, scope="food_text", config=client.config)
    own_redis.stop()
    with pytest.raises(BACKEND_OUTAGES):
        enforce_rate_limit(user=user, scope="food_text", config=client.config)
    assert gemini.requests == []


def test_photo_analysis_goes_on_when_the_result_cache_is_down(own_redis, user, gemini, caplog):
    for _ in range(2):  # the two analyses that are merged
        gemini.reply_json(analysis_payload())
    own_redis.stop()

    with caplog.at_level(logging.INFO):
        result = analyze_photo(client=get_ai_client(), user=user, jpeg=jpeg_bytes())

    assert result.source == AIResultSource.GEMINI
    assert len(gemini.requests) == 2
    assert not [r for r in caplog.records if r.exc_info]
    outage_lines = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(outage_lines) == 2  # the read and the write, one line each
