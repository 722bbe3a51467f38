"""Food logs linked to uploaded files: `image_id` in, a signed `image_url` out."""

from datetime import datetime

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from food.models import FoodLog
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.food.factories import FoodLogFactory, FoodLogShareFactory
from tests.food.test_api_batch import BATCH, item
from tests.food.test_api_logs import LOGS, detail
from tests.storage.factories import stored_file

pytestmark = pytest.mark.django_db

SIGNED_PREFIX = "http://testserver/api/v1/storage/signed/"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def blob(stored) -> bytes:
    with default_storage.open(stored.key, "rb") as opened:
        return opened.read()


def fetch(api_client, url: str):
    """Follows a signed URL the way an <Image> would: no credentials."""
    return api_client.get(url, HTTP_ACCEPT="image/*")


def log_with_image(client, stored, **fields) -> dict:
    response = client.post(
        LOGS, {"name": "Salad", "calories": 300, "image_id": str(stored.pk), **fields}, "json"
    )
    assert response.status_code == 201, response.content
    return response.json()


# --- create and read ------------------------------------------------------------------------


def test_create_log_with_own_image_returns_signed_url_that_serves_it(auth_client, api_client, user):
    stored = stored_file(user)

    body = log_with_image(auth_client, stored)

    assert body["image_id"] == str(stored.pk)
    assert body["image_url"].startswith(SIGNED_PREFIX)
    served = fetch(api_client, body["image_url"])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served.content == blob(stored)
    assert FoodLog.objects.get(pk=body["id"]).image_id == stored.pk


def test_create_log_with_image_keeps_no_echoed_plain_url(auth_client, user):
    stored = stored_file(user)

    body = log_with_image(auth_client, stored, image_url="https://cdn.example.com/x.jpg")

    assert body["image_url"].startswith(SIGNED_PREFIX)
    assert FoodLog.objects.get(pk=body["id"]).image_url == ""


def test_create_log_returns_400_when_image_is_someone_elses(auth_client, other_user):
    theirs = stored_file(other_user)

    response = auth_client.post(
        LOGS, {"name": "Salad", "calories": 300, "image_id": str(theirs.pk)}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert str(theirs.pk) in error["details"]["fields"]["image_id"][0]
    assert not FoodLog.objects.exists()


def test_get_log_renders_fresh_signed_url_for_shared_reader(api_client, user, other_user):
    stored = stored_file(user)
    log = FoodLogFactory(owner=user, image=stored)
    FoodLogShareFactory(food_log=log, user=other_user)

    body = client_for(other_user).get(detail(log.pk)).json()

    assert body["image_id"] == str(stored.pk)
    assert fetch(api_client, body["image_url"]).content == blob(stored)


def test_log_without_image_keeps_its_plain_url(auth_client, user):
    log = FoodLogFactory(owner=user, image_url="https://cdn.example.com/old.jpg")

    body = auth_client.get(detail(log.pk)).json()

    assert body["image_id"] is None
    assert body["image_url"] == "https://cdn.example.com/old.jpg"


# --- update ---------------------------------------------------------------------------------


def test_patch_image_id_links_and_null_unlinks(auth_client, user):
    stored = stored_file(user)
    log = FoodLogFactory(owner=user)

    linked = auth_client.patch(detail(log.pk), {"image_id": str(stored.pk)}, format="json")
    unlinked = auth_client.patch(detail(log.pk), {"image_id": None}, format="json")

    assert linked.status_code == 200
    assert linked.json()["image_url"].startswith(SIGNED_PREFIX)
    assert unlinked.status_code == 200
    assert unlinked.json()["image_id"] is None and unlinked.json()["image_url"] is None


def test_put_of_the_object_as_read_keeps_its_image(auth_client, user):
    stored = stored_file(user)
    body = log_with_image(auth_client, stored)
    # An older client knows neither the link nor what to send for `image_url`.
    legacy = {key: value for key, value in body.items() if key not in {"image_id", "image_url"}}

    echoed = auth_client.put(detail(body["id"]), body, format="json")
    without_id = auth_client.put(detail(body["id"]), legacy, format="json")

    assert echoed.status_code == 200 and without_id.status_code == 200
    assert without_id.json()["image_id"] == str(stored.pk)
    assert without_id.json()["image_url"].startswith(SIGNED_PREFIX)
    assert FoodLog.objects.get(pk=body["id"]).image_url == ""


def test_update_log_returns_400_and_changes_nothing_when_image_is_someone_elses(
    auth_client, user, other_user
):
    mine = stored_file(user)
    theirs = stored_file(other_user)
    log = FoodLogFactory(owner=user, image=mine, name="Before")

    response = auth_client.patch(
        detail(log.pk), {"name": "After", "image_id": str(theirs.pk)}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert "image_id" in error["details"]["fields"]
    log.refresh_from_db()
    assert log.name == "Before" and log.image_id == mine.pk


# --- batch ----------------------------------------------------------------------------------


def test_batch_create_links_each_items_image(auth_client, api_client, user):
    files = [stored_file(user) for _ in range(2)]
    items = [item(0, image_id=str(files[0].pk)), item(1), item(2, image_id=str(files[1].pk))]

    response = auth_client.post(BATCH, {"items": items}, format="json")

    assert response.status_code == 201
    rendered = response.json()["items"]
    assert [entry["image_id"] for entry in rendered] == [str(files[0].pk), None, str(files[1].pk)]
    assert fetch(api_client, rendered[2]["image_url"]).content == blob(files[1])


def test_batch_create_returns_400_at_the_index_of_a_foreign_image_and_stores_nothing(
    auth_client, user, other_user
):
    mine = stored_file(user)
    theirs = stored_file(other_user)
    items = [item(0, image_id=str(mine.pk)), item(1, image_id=str(theirs.pk))]

    response = auth_client.post(BATCH, {"items": items}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]["fields"]["items"]) == {"1"}
    assert "image_id" in error["details"]["fields"]["items"]["1"]
    assert not FoodLog.objects.exists()


def test_batch_create_checks_all_images_in_one_query(auth_client, user):
    files = [stored_file(user) for _ in range(8)]

    def queries(count: int) -> int:
        items = [item(n + count, image_id=str(files[n].pk)) for n in range(count)]
        with CaptureQueriesContext(connection) as captured:
            assert auth_client.post(BATCH, {"items": items}, format="json").status_code == 201
        return len(captured)

    assert queries(2) == queries(8)


# --- file deleted ---------------------------------------------------------------------------


def test_deleting_the_file_unlinks_the_log_and_bumps_updated_at(auth_client, api_client, user):
    stored = stored_file(user)
    body = log_with_image(auth_client, stored)
    untouched = FoodLogFactory(owner=user)

    assert auth_client.delete(f"/api/v1/storage/{stored.pk}").status_code == 204

    after = auth_client.get(detail(body["id"])).json()
    assert after["image_id"] is None and after["image_url"] is None
    assert parse(after["updated_at"]) > parse(body["updated_at"])
    assert fetch(api_client, body["image_url"]).status_code == 404
    assert FoodLog.objects.get(pk=untouched.pk).updated_at == untouched.updated_at


# --- list -----------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [3, 30])
def test_list_logs_with_images_uses_fixed_number_of_queries(
    auth_client, user, other_user, page_size, django_assert_max_num_queries
):
    for _ in range(page_size - 1):
        FoodLogFactory(owner=user, image=stored_file(user))
    shared = FoodLogFactory(owner=other_user, image=stored_file(other_user))
    FoodLogShareFactory(food_log=shared, user=user)

    # The caller, the count, the page (images joined), tags, shares: none per log or photo.
    with django_assert_max_num_queries(5):
        response = auth_client.get(LOGS, {"page_size": page_size, "include_shared": "true"})

    items = response.json()["items"]
    assert len(items) == page_size
    assert all(entry["image_url"].startswith(SIGNED_PREFIX) for entry in items)
