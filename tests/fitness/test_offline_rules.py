"""The offline rules (fitness.offline) answer alike for every resource an offline client
creates under its own ids: food logs, workouts and stored files."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from food.models import FoodLog
from storage.models import StoredFile
from tests.asserts import assert_error
from tests.storage.factories import jpeg_bytes, upload
from tests.workouts.factories import workout_payload
from workouts.models import Workout


@dataclass(frozen=True)
class Resource:
    collection: str
    detail: str
    body: Callable[[str], dict]
    stored: Callable[[str], bool]
    multipart: bool = False

    def create(self, client, object_id: str):
        kind = "multipart" if self.multipart else "json"
        return client.post(self.collection, self.body(object_id), format=kind)

    def url(self, object_id: str) -> str:
        return self.detail.format(id=object_id)


RESOURCES = {
    "food_log": Resource(
        "/api/v1/food/logs",
        "/api/v1/food/logs/{id}",
        lambda object_id: {"id": object_id, "name": "Oats", "calories": 300},
        lambda object_id: FoodLog.objects.alive().filter(pk=object_id).exists(),
    ),
    "workout": Resource(
        "/api/v1/workouts",
        "/api/v1/workouts/{id}",
        lambda object_id: workout_payload(id=object_id),
        lambda object_id: Workout.objects.alive().filter(pk=object_id).exists(),
    ),
    "stored_file": Resource(
        "/api/v1/storage/upload",
        "/api/v1/storage/{id}",
        lambda object_id: {"id": object_id, "file": upload(jpeg_bytes())},
        lambda object_id: StoredFile.objects.filter(pk=object_id).exists(),
        multipart=True,
    ),
}

pytestmark = pytest.mark.parametrize("resource", list(RESOURCES.values()), ids=list(RESOURCES))


def test_a_resent_create_answers_200_with_the_stored_object_once(resource, auth_client):
    object_id = str(uuid.uuid4())

    first = resource.create(auth_client, object_id)
    again = resource.create(auth_client, object_id)

    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert again["ETag"] == first["ETag"]
    assert auth_client.get(resource.url(object_id))["ETag"] == first["ETag"]
    assert resource.stored(object_id)


def test_another_users_id_is_409_id_conflict(resource, auth_client, other_client):
    object_id = str(uuid.uuid4())
    theirs = resource.create(other_client, object_id)

    response = resource.create(auth_client, object_id)

    assert_error(response, 409, "id_conflict")
    assert other_client.get(resource.url(object_id))["ETag"] == theirs["ETag"]
    assert_error(auth_client.get(resource.url(object_id)), 404, "not_found")


def test_recreating_your_own_deleted_id_is_410_id_deleted(resource, auth_client):
    object_id = str(uuid.uuid4())
    resource.create(auth_client, object_id)
    assert auth_client.delete(resource.url(object_id)).status_code == 204

    response = resource.create(auth_client, object_id)

    assert_error(response, 410, "id_deleted")
    assert not resource.stored(object_id)
    assert_error(auth_client.get(resource.url(object_id)), 404, "not_found")


def test_a_delete_based_on_an_old_version_is_412(resource, auth_client):
    object_id = str(uuid.uuid4())
    etag = resource.create(auth_client, object_id)["ETag"]

    stale = auth_client.delete(resource.url(object_id), HTTP_IF_MATCH='"0123456789abcdef"')
    current = auth_client.delete(resource.url(object_id), HTTP_IF_MATCH=etag)

    error = assert_error(stale, 412, "precondition_failed")
    assert error["details"]["current_etag"] == etag
    assert current.status_code == 204
    assert not resource.stored(object_id)
