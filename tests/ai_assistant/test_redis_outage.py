"""The AI paths with Redis down: the per-user allowance fails closed (it protects the
Gemini bill); the result cache is only a cache, so an admitted job goes on without it."""

import logging

import pytest

from ai_assistant.client import get_ai_client
from ai_assistant.limits import enforce_rate_limit
from ai_assistant.models import RecognitionJob
from ai_assistant.recognition.jobs import wait_for_job
from ai_assistant.recognition.pipeline import analyze_photo
from ai_assistant.responses import AIResultSource
from fitness.api.errors import BACKEND_OUTAGES
from tests.ai_assistant.factories import analysis_payload
from tests.redis_server import RedisServer, needs_redis_server, point_at
from tests.storage.factories import jpeg_bytes, stored_file

pytestmark = [needs_redis_server, pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


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


def test_prefer_wait_answers_the_job_as_it_is_when_the_channel_layer_is_down(
    own_redis, user, caplog
):
    image = stored_file(user, jpeg_bytes(), purpose="food_photo")
    job = RecognitionJob.objects.create(owner=user, image=image)
    own_redis.stop()

    with caplog.at_level(logging.WARNING):
        answered = wait_for_job(job, seconds=5)

    assert answered.status == "pending"
    assert any("recognition job wait" in r.getMessage() for r in caplog.records)
