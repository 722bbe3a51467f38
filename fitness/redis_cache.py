"""django-redis's client, with one redis-py client per Redis server for the whole process.

Django keeps cache objects in a context-local, so under ASGI every request builds its own
cache object, and django-redis builds a redis-py client for each: constructing that
client was about 4% of a list request's CPU (py-spy of a server under load), thrown
away at the end of the request. django-redis already shares the connection pool per
server; a redis-py client is only that pool behind a thread-safe front, so one is built
per server and handed to every cache object.
"""

from typing import ClassVar

from django_redis.client import DefaultClient
from redis import Redis


class SharedRedisClient(DefaultClient):
    _shared: ClassVar[dict[str, Redis]] = {}

    def connect(self, index: int = 0) -> Redis:
        server = self._server[index]
        client = self._shared.get(server)
        if client is None:
            # Two threads may both build one at first; either serves, and one is kept.
            client = self._shared.setdefault(server, super().connect(index))
        return client
