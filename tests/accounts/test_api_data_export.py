"""POST /api/v1/users/me/export and GET /api/v1/users/me/export/{id}: a zip of every
table's rows of the user (JSON per table) and their photos, in their private storage."""

import io
import json
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts import data_export, services
from accounts.models import DataExport, User
from storage import selectors as storage_selectors
from storage.models import Purpose, StoredFile
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.factories import UserFactory, connect
from tests.food.factories import FoodLogFactory, FoodLogShareFactory
from tests.storage.factories import png_bytes, stored_file
from tests.workouts.factories import create_workout

pytestmark = pytest.mark.django_db

URL = "/api/v1/users/me/export"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _start(client, capture, execute=True):
    with capture(execute=execute):
        return client.post(URL)


def _download(client, url: str) -> zipfile.ZipFile:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_export_is_accepted_then_ready_with_a_signed_link(
    auth_client, user, django_capture_on_commit_callbacks
):
    response = _start(auth_client, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "status"} and body["status"] == "pending"
    assert response["Location"].endswith(f"{URL}/{body['id']}")

    ready = auth_client.get(response["Location"])
    assert ready.status_code == 200
    shown = ready.json()
    assert set(shown) == {"id", "status", "url", "expires_at", "error"}
    assert shown["status"] == "ready" and shown["error"] is None
    assert shown["url"] and shown["expires_at"]
    stored = DataExport.objects.get(pk=body["id"]).file
    assert stored.owner == user and stored.purpose == Purpose.DATA_EXPORT


def test_export_zip_holds_every_table_and_the_photos(
    auth_client, user, django_capture_on_commit_callbacks
):
    friend, stranger = UserFactory(), UserFactory()
    connect(user, friend)
    with django_capture_on_commit_callbacks(execute=True):
        photo = stored_file(user, png_bytes())
    log = FoodLogFactory(owner=user, name="Porridge", image=photo)
    FoodLogShareFactory(food_log=log, user=friend)
    theirs = FoodLogFactory(owner=stranger, name="Stranger's secret lunch")
    workout = create_workout(user, name="Leg day")
    response = _start(auth_client, django_capture_on_commit_callbacks)
    url = auth_client.get(response["Location"]).json()["url"]

    archive = _download(auth_client, url)

    names = set(archive.namelist())
    assert "README.txt" in names
    assert {f"tables/{table.name}.json" for table in data_export.TABLES} <= names
    tables = {
        name.removeprefix("tables/").removesuffix(".json"): json.loads(archive.read(name))
        for name in names
        if name.startswith("tables/")
    }
    account = tables["account"]
    assert [row["email"] for row in account] == [user.email]
    assert "password" not in account[0] and "token_version" not in account[0]
    assert [row["name"] for row in tables["food_logs"]] == ["Porridge"]
    assert [row["user_id"] for row in tables["food_log_shares"]] == [str(friend.pk)]
    assert [row["name"] for row in tables["workouts"]] == ["Leg day"]
    assert {row["workout_id"] for row in tables["exercises"]} == {str(workout.pk)}
    assert len(tables["connections"]) == 1
    # Photos as files, byte for byte the stored originals; the export itself is not in it.
    assert [row["id"] for row in tables["files"]] == [str(photo.pk)]
    assert "key" not in tables["files"][0]
    photos = [name for name in names if name.startswith("files/")]
    assert photos == [f"files/{photo.pk}.png"]
    with default_storage.open(photo.key, "rb") as blob:
        assert archive.read(photos[0]) == blob.read()
    assert archive.getinfo(photos[0]).compress_type == zipfile.ZIP_STORED
    # Nothing of anyone else's.
    everything = b"".join(archive.read(name) for name in names)
    assert theirs.name.encode() not in everything
    assert str(stranger.pk).encode() not in everything


def test_every_table_holding_a_user_is_exported_or_said_why_not():
    covered = {
        f"{table.model}.{path}" for table in data_export.TABLES for path in table.paths
    } | set(data_export.NOT_EXPORTED)
    user_keys = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if (field.many_to_one or field.one_to_one)
        and field.concrete
        and field.related_model is User
    }
    assert user_keys - covered == set(), "add the table to TABLES or to NOT_EXPORTED"
    assert set(data_export.NOT_EXPORTED) <= user_keys, "NOT_EXPORTED names a gone field"


def test_export_while_one_is_under_way_answers_that_one(
    auth_client, django_capture_on_commit_callbacks
):
    first = _start(auth_client, django_capture_on_commit_callbacks, execute=False)
    second = _start(auth_client, django_capture_on_commit_callbacks, execute=False)
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert DataExport.objects.count() == 1


def test_export_not_yet_run_is_pending_without_a_link(
    auth_client, django_capture_on_commit_callbacks
):
    started = _start(auth_client, django_capture_on_commit_callbacks, execute=False)
    shown = auth_client.get(started["Location"]).json()
    assert shown == {
        "id": started.json()["id"],
        "status": "pending",
        "url": None,
        "expires_at": None,
        "error": None,
    }


def test_another_users_export_answers_404(
    auth_client, other_client, django_capture_on_commit_callbacks
):
    started = _start(auth_client, django_capture_on_commit_callbacks)
    assert_error(other_client.get(started["Location"]), 404, "not_found")
    assert_error(other_client.get(f"{URL}/{uuid.uuid4()}"), 404, "not_found")


def test_export_zip_is_outside_the_quota_and_the_file_list(
    auth_client, user, django_capture_on_commit_callbacks
):
    _start(auth_client, django_capture_on_commit_callbacks)
    assert StoredFile.objects.filter(owner=user, purpose=Purpose.DATA_EXPORT).count() == 1
    assert storage_selectors.used_bytes(user) == 0
    listed = auth_client.get("/api/v1/storage/files").json()
    assert listed["items"] == []


def test_export_link_is_gone_once_the_zip_expired(
    auth_client, user, django_capture_on_commit_callbacks
):
    started = _start(auth_client, django_capture_on_commit_callbacks)
    export = DataExport.objects.get(pk=started.json()["id"])
    assert export.file.expiry - timezone.now() > timedelta(days=6)
    StoredFile.objects.filter(pk=export.file_id).update(expiry=timezone.now())
    shown = auth_client.get(started["Location"]).json()
    assert shown["status"] == "ready" and shown["url"] is None


def test_export_that_cannot_be_written_is_failed(
    auth_client, user, monkeypatch, django_capture_on_commit_callbacks
):
    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(default_storage, "save", full_disk)
    started = _start(auth_client, django_capture_on_commit_callbacks)
    shown = auth_client.get(started["Location"]).json()
    assert shown["status"] == "failed" and shown["url"] is None and shown["error"]
    assert not StoredFile.objects.filter(owner=user).exists()
    # A new request starts a new export.
    again = _start(auth_client, django_capture_on_commit_callbacks, execute=False)
    assert again.json()["id"] != started.json()["id"]


def test_export_requires_authentication(api_client):
    assert_error(api_client.post(URL), 401, "not_authenticated")
    assert not DataExport.objects.exists()


def test_account_deletion_takes_the_exports_and_their_zips(
    user, django_capture_on_commit_callbacks, settings
):
    client = client_for(user)
    _start(client, django_capture_on_commit_callbacks)
    key = StoredFile.objects.get(owner=user, purpose=Purpose.DATA_EXPORT).key
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.delete(
            "/api/v1/users/me", {"password": "correct-horse-battery-staple"}, format="json"
        )
    assert deleted.status_code == 204
    assert not DataExport.objects.exists()
    assert not default_storage.exists(key)


def test_new_exports_are_limited_per_user(
    auth_client, settings, django_capture_on_commit_callbacks
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "data_export": "2/day",
        },
    }
    for _ in range(2):
        assert _start(auth_client, django_capture_on_commit_callbacks).status_code == 202
    refused = _start(auth_client, django_capture_on_commit_callbacks)
    assert_error(refused, 429, "rate_limited")
    assert int(refused["Retry-After"]) > 0
    assert DataExport.objects.count() == 2


def test_an_export_lost_for_an_hour_does_not_block_a_new_one(
    auth_client, django_capture_on_commit_callbacks
):
    lost = _start(auth_client, django_capture_on_commit_callbacks, execute=False).json()["id"]
    DataExport.objects.filter(pk=lost).update(
        created_at=timezone.now() - timedelta(hours=1, seconds=1)
    )
    again = _start(auth_client, django_capture_on_commit_callbacks)
    assert again.json()["id"] != lost
    assert DataExport.objects.get(pk=lost).status == DataExport.Status.FAILED
    assert auth_client.get(again["Location"]).json()["status"] == "ready"


def test_export_task_run_again_changes_nothing(
    auth_client, user, django_capture_on_commit_callbacks
):
    started = _start(auth_client, django_capture_on_commit_callbacks)
    export_id = started.json()["id"]
    before = list(StoredFile.objects.filter(owner=user).values_list("pk", flat=True))
    services.build_data_export(export_id=export_id)  # a redelivered message
    assert list(StoredFile.objects.filter(owner=user).values_list("pk", flat=True)) == before
    assert DataExport.objects.get(pk=export_id).file_id == before[0]


def test_export_redelivered_while_running_is_built_again(user):
    export = DataExport.objects.create(owner=user, status=DataExport.Status.RUNNING)
    services.build_data_export(export_id=str(export.pk))  # the first worker was lost
    export.refresh_from_db()
    assert export.status == DataExport.Status.READY and export.file is not None


@pytest.mark.django_db(transaction=True)
def test_account_deleted_while_its_zip_is_written_leaves_no_blob(user, monkeypatch, settings):
    export = DataExport.objects.create(owner=user)
    write_zip = data_export.write_zip

    def write_then_delete_the_account(owner, out):
        write_zip(owner, out)
        services.erase_account(user=owner)

    monkeypatch.setattr(data_export, "write_zip", write_then_delete_the_account)
    services.build_data_export(export_id=str(export.pk))

    assert not DataExport.objects.exists()
    assert not StoredFile.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))
