"""A tiny sync client (what WatermelonDB does with pulls, kept as plain dicts) and a
listener for the events a device hears."""

import gzip
import json
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import (
    DEFAULT_CHANNEL_LAYER,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)

from fitness.ws import user_group
from tests.ai_assistant.events import UserEvents

URL = "/api/v1/sync"


def body(response) -> dict[str, Any]:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def pull(client, last_pulled_at=None, **params) -> dict[str, Any]:
    query = {"last_pulled_at": "null" if last_pulled_at is None else last_pulled_at, **params}
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    return body(response)


def push(client, last_pulled_at: int, changes: dict):
    return client.post(f"{URL}?last_pulled_at={last_pulled_at}", changes, format="json")


class Replica:
    """A device's local database: {table: {id: record}}, updated from pulls in order."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict]] = {}
        self.last_pulled_at: int | None = None

    def apply(self, pulled: dict[str, Any]) -> None:
        replacement = pulled.get("experimentalStrategy") == "replacement"
        for table, changes in pulled["changes"].items():
            if replacement:
                # WatermelonDB 0.28: every synced record not in the answer is destroyed.
                self.tables[table] = {}
            rows = self.tables.setdefault(table, {})
            for record in [*changes["created"], *changes["updated"]]:
                rows[record["id"]] = record
            for record_id in changes["deleted"]:
                rows.pop(record_id, None)
        self.last_pulled_at = pulled["timestamp"]

    def sync(self, client) -> dict[str, Any]:
        pulled = pull(client, self.last_pulled_at)
        self.apply(pulled)
        return pulled

    def ids(self, table: str) -> set[str]:
        return set(self.tables.get(table, {}))


class Listener(UserEvents):
    """A user's events on a channel layer of its own: several users' listeners in one
    test each receive on their own (channels-redis binds a layer's receive to a loop).
    In memory (no REDIS_URL) only the process's one layer hears what the app sends."""

    ignored = ()

    def __init__(self, user) -> None:
        shared = get_channel_layer()
        self.layer = (
            shared
            if isinstance(shared, InMemoryChannelLayer)
            else channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        )
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(user_group(user.pk), self.channel)
