"""`fitness.redis_cache.SharedRedisClient`: the cache objects Django builds (one per
request context under ASGI) share one redis-py client per server, and each still reads
what another wrote."""

import pytest
from django.conf import settings
from django.core.cache import caches

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")


def test_cache_objects_of_one_server_share_its_redis_client():
    # What Django's cache handler does the first time a request context asks for a cache.
    first, second = caches.create_connection("default"), caches.create_connection("default")

    assert first is not second
    assert first.client.get_client(write=True) is second.client.get_client(write=True)
    first.set("shared-client", "written", 10)
    assert second.get("shared-client") == "written"


def test_another_server_gets_a_client_of_its_own():
    default = caches.create_connection("default")
    elsewhere = caches.create_connection("default")
    elsewhere.client._server = ["redis://127.0.0.1:6399/0"]

    assert elsewhere.client.get_client(write=True) is not default.client.get_client(write=True)
