"""Progress photos: file ids in, signed URLs (and the ids) out, in order."""

import uuid
from datetime import datetime

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from storage.models import StoredFile
from tests.asserts import assert_error
from tests.factories import UserFactory
from tests.storage.factories import stored_file
from tests.workouts.factories import create_workout, workout_payload
from workouts.models import Workout, WorkoutPhoto

URL = "/api/v1/workouts"
SIGNED_PREFIX = "http://testserver/api/v1/storage/signed/"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def detail(workout_id) -> str:
    return f"{URL}/{workout_id}"


def ids(files) -> list[str]:
    return [str(stored.pk) for stored in files]


def blob(stored) -> bytes:
    with default_storage.open(stored.key, "rb") as opened:
        return opened.read()


def assert_field_error(response, field: str) -> list[str]:
    error = assert_error(response, 400, "validation_error")
    return error["details"]["fields"][field]


# --- create and read ------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_with_own_photos_keeps_order_and_serves_signed_urls(auth_client, api_client, user):
    files = [stored_file(user) for _ in range(3)]
    order = [files[2], files[0], files[1]]

    response = auth_client.post(URL, workout_payload(progress_photos=ids(order)), format="json")

    assert response.status_code == 201
    body = response.json()["workout"]
    assert body["progress_photo_ids"] == ids(order)
    assert len(body["progress_photos"]) == 3
    for url, stored in zip(body["progress_photos"], order, strict=True):
        assert url.startswith(SIGNED_PREFIX)
        served = api_client.get(url, HTTP_ACCEPT="image/*")
        assert served.status_code == 200 and served.content == blob(stored)
    read = auth_client.get(detail(body["id"])).json()["workout"]
    assert read["progress_photo_ids"] == ids(order)


@pytest.mark.django_db
def test_create_returns_400_and_stores_nothing_when_a_photo_is_someone_elses(
    auth_client, user, other_user
):
    mine, theirs = stored_file(user), stored_file(other_user)

    response = auth_client.post(
        URL, workout_payload(progress_photos=ids([mine, theirs])), format="json"
    )

    messages = assert_field_error(response, "progress_photos")
    assert str(theirs.pk) in messages[0] and str(mine.pk) not in messages[0]
    assert not Workout.objects.exists() and not WorkoutPhoto.objects.exists()


@pytest.mark.django_db
def test_create_returns_400_when_more_than_twenty_photos(auth_client):
    photos = [str(uuid.uuid4()) for _ in range(21)]

    response = auth_client.post(URL, workout_payload(progress_photos=photos), format="json")

    assert_field_error(response, "progress_photos")
    assert not Workout.objects.exists()


# --- update ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_patch_replaces_photos_and_leaves_them_when_not_sent(auth_client, user):
    a, b, c = (stored_file(user) for _ in range(3))
    workout = create_workout(user, progress_photos=ids([a, b]))

    replaced = auth_client.patch(detail(workout.id), {"progress_photos": ids([c, a])}, "json")
    renamed = auth_client.patch(detail(workout.id), {"name": "Renamed"}, format="json")

    assert replaced.status_code == 200
    assert replaced.json()["workout"]["progress_photo_ids"] == ids([c, a])
    assert renamed.json()["workout"]["progress_photo_ids"] == ids([c, a])


@pytest.mark.django_db
def test_put_of_the_object_as_read_keeps_photos_and_put_without_them_clears(auth_client, user):
    files = [stored_file(user) for _ in range(2)]
    workout = create_workout(user, progress_photos=ids(files))
    read = auth_client.get(detail(workout.id)).json()["workout"]

    echoed = auth_client.put(detail(workout.id), read, format="json")
    cleared = auth_client.put(detail(workout.id), {"name": "Legs", "type": "strength"}, "json")

    assert echoed.status_code == 200
    assert echoed.json()["workout"]["progress_photo_ids"] == ids(files)
    assert cleared.status_code == 200
    assert (
        cleared.json()["workout"]["progress_photos"]
        == []
        == cleared.json()["workout"]["progress_photo_ids"]
    )


@pytest.mark.django_db
def test_update_returns_400_and_changes_nothing_when_a_photo_is_someone_elses(
    auth_client, user, other_user
):
    mine, theirs = stored_file(user), stored_file(other_user)
    workout = create_workout(user, name="Before", progress_photos=ids([mine]))

    response = auth_client.patch(
        detail(workout.id), {"name": "After", "progress_photo_ids": ids([theirs])}, "json"
    )

    assert_field_error(response, "progress_photo_ids")
    workout.refresh_from_db()
    assert workout.name == "Before"
    assert list(workout.photos.values_list("file_id", flat=True)) == [mine.pk]


# --- file deleted ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_deleting_a_photo_file_removes_it_and_bumps_updated_at(auth_client, user):
    a, b, c = (stored_file(user) for _ in range(3))
    body = auth_client.post(URL, workout_payload(progress_photos=ids([a, b, c])), "json").json()[
        "workout"
    ]
    untouched = create_workout(user, progress_photos=ids([c]))

    assert auth_client.delete(f"/api/v1/storage/{b.pk}").status_code == 204

    after = auth_client.get(detail(body["id"])).json()["workout"]
    assert after["progress_photo_ids"] == ids([a, c])
    assert len(after["progress_photos"]) == 2
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(body["updated_at"])
    assert Workout.objects.get(pk=untouched.pk).updated_at == untouched.updated_at


# --- list -----------------------------------------------------------------------------------


def _queries(client, params: dict) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params)
    assert response.status_code == 200
    assert all(len(item["progress_photos"]) == 2 for item in response.json()["items"])
    return len(captured)


@pytest.mark.django_db
def test_list_with_photos_uses_fixed_number_of_queries(
    auth_client, user, django_assert_max_num_queries
):
    files = [stored_file(user) for _ in range(24)]
    for index in range(2):
        create_workout(user, progress_photos=ids(files[2 * index : 2 * index + 2]))
    few = _queries(auth_client, {"page_size": 2})
    for index in range(2, 12):
        create_workout(user, progress_photos=ids(files[2 * index : 2 * index + 2]))

    with django_assert_max_num_queries(few):
        assert len(auth_client.get(URL, {"page_size": 50}).json()["items"]) == 12
    # The caller, the count, the page, exercises, their sets, shares, photos with files.
    assert few <= 7


# --- migration ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_links_owned_file_ids_and_drops_everything_else():
    owner, stranger = UserFactory(), UserFactory()

    def row(user) -> StoredFile:
        return StoredFile.objects.create(
            owner=user, key=f"uploads/{uuid.uuid4().hex}.jpg", content_type="image/jpeg",
            size=1, sha256="0" * 64,
        )  # fmt: skip

    first, second, theirs = row(owner), row(owner), row(stranger)
    before, after = [("workouts", "0001_initial")], [("workouts", "0002_progress_photo_links")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_workout = executor.loader.project_state(before).apps.get_model("workouts", "Workout")
    workout = old_workout.objects.create(
        owner_id=owner.pk,
        name="Old",
        type="strength",
        progress_photos=[
            str(second.pk),
            "https://cdn.example.com/a.jpg",
            str(theirs.pk),
            str(uuid.uuid4()),
            str(first.pk),
            str(second.pk),
        ],
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    linked = list(WorkoutPhoto.objects.filter(workout_id=workout.pk).order_by("position"))
    # Back to the latest schema: going back to 0001 also unapplied what depends on the
    # workouts app (its later migrations, sync's triggers), which later tests need.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert [photo.file_id for photo in linked] == [second.pk, first.pk]
