"""The shape rules the whole API keeps (README, "API"): a 201 says where the new object
lives, a stored file is `file_id` everywhere, and only the plan's `hasMore` is camelCase."""

import re

import pytest

from tests.food.factories import FoodLogFactory
from tests.storage import factories as storage_factories

pytestmark = pytest.mark.django_db
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@pytest.fixture
def schema(api_client):
    return api_client.get("/api/schema/?format=json").json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield f"{method.upper()} {path}", operation


def test_every_201_in_the_schema_documents_location(schema):
    created = [name for name, operation in _operations(schema) if "201" in operation["responses"]]
    missing = [
        name
        for name, operation in _operations(schema)
        if "201" in operation["responses"]
        and "Location" not in operation["responses"]["201"].get("headers", {})
    ]

    assert len(created) >= 10
    assert missing == []


def _property_names(node, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for name, value in (node.get("properties") or {}).items():
            found.add(name)
            _property_names(value, found)
        for key, value in node.items():
            if key != "properties":
                _property_names(value, found)
    elif isinstance(node, list):
        for value in node:
            _property_names(value, found)
    return found


def test_every_field_name_is_snake_case_but_the_plans_has_more(schema):
    names = _property_names(schema["components"]["schemas"], set())

    assert "hasMore" in names
    # The WatermelonDB protocol names its push answer's rejections and its pull strategy;
    # its client reads those names.
    protocol = {"experimentalRejectedIds", "experimentalStrategy"}
    assert sorted(name for name in names - {"hasMore"} - protocol if not _SNAKE.match(name)) == []


def test_created_objects_live_where_location_says(auth_client, user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    log = {"name": "Oats", "calories": 300, "meal_type": "breakfast"}
    upload = {
        "file": storage_factories.upload(storage_factories.jpeg_bytes(), "a.jpg", "image/jpeg")
    }
    created = {
        "food log": auth_client.post("/api/v1/food/logs", log, format="json"),
        "group": auth_client.post("/api/v1/groups", {"name": "Runners"}, format="json"),
        "file": auth_client.post("/api/v1/storage/upload", upload, format="multipart"),
    }

    for what, response in created.items():
        assert response.status_code == 201, what
        read = auth_client.get(response["Location"])
        assert read.status_code == 200, what
        # The same shape from every verb; a file's signed URL may be signed anew.
        ignored = {"url", "expires_at"} if what == "file" else set()
        written = {key: value for key, value in response.json().items() if key not in ignored}
        assert {key: read.json()[key] for key in written} == written, what
        assert set(read.json()) == set(response.json()), what
    # One name for a stored file, from the upload to every read of it.
    assert "file_id" in created["file"].json() and "id" not in created["file"].json()


def test_file_list_items_name_the_file_id(auth_client, user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    stored = storage_factories.stored_file(user)
    FoodLogFactory(owner=user)

    items = auth_client.get("/api/v1/storage/files").json()["items"]

    assert [item["file_id"] for item in items] == [str(stored.id)]
    assert "id" not in items[0]
