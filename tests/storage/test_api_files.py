import io
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from PIL import Image

from storage import signing
from storage.models import StoredFile
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.storage import factories as f


def url_of(file_id, variant=None) -> str:
    return f"/api/v1/storage/{file_id}/url" + (f"?variant={variant}" if variant else "")


def test_file_url_returns_url_living_the_default_ttl(auth_client, user, local_backend):
    stored = f.stored_file(user)
    before = timezone.now()

    response = auth_client.get(url_of(stored.id))

    assert response.status_code == 200
    body = response.json()
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=14) < expires_at - before <= timedelta(minutes=15, seconds=1)
    status, data, content_type = local_backend.fetch(body["url"])
    assert status == 200 and content_type == "image/jpeg"
    assert data == local_backend.read(stored.key)


def test_file_url_lifetime_follows_setting(auth_client, user, settings):
    settings.STORAGE_URL_TTL_SECONDS = 120
    stored = f.stored_file(user)

    body = auth_client.get(url_of(stored.id)).json()

    left = datetime.fromisoformat(body["expires_at"]) - timezone.now()
    assert timedelta(seconds=100) < left <= timedelta(seconds=120)


def test_signed_file_returns_403_when_expired(auth_client, user, local_backend):
    stored = f.stored_file(user)
    expired = signing.local_url(
        file_id=stored.id, variant=None, expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = local_backend.client.get(expired)

    assert_error(response, 403, "url_expired")


def _flip(char: str) -> str:
    return "B" if char != "B" else "C"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:3] + _flip(token[3]) + token[4:],
        lambda token: token[:-1] + _flip(token[-1]),
        lambda token: token[:-5],
    ],
    ids=["payload", "signature", "truncated"],
)
def test_signed_file_returns_403_when_token_tampered(auth_client, user, tamper):
    stored = f.stored_file(user)
    url = auth_client.get(url_of(stored.id)).json()["url"]
    token = url.rsplit("/", 1)[1]

    response = auth_client.get(url.replace(token, tamper(token)))

    assert_error(response, 403, "invalid_signature")


def test_signed_file_returns_403_when_token_signed_with_other_salt(api_client, user):
    stored = f.stored_file(user)
    from django.core import signing as django_signing

    token = django_signing.dumps({"f": str(stored.id), "v": "", "e": 2**40}, compress=True)

    response = api_client.get(f"/api/v1/storage/signed/{token}")

    assert_error(response, 403, "invalid_signature")


def test_signed_file_returns_404_after_delete(auth_client, user, local_backend):
    stored = f.stored_file(user)
    url = auth_client.get(url_of(stored.id)).json()["url"]

    assert auth_client.delete(f"/api/v1/storage/{stored.id}").status_code == 204

    assert_error(local_backend.client.get(url), 404, "not_found")


def test_signed_file_serves_image_without_auth_and_with_any_accept(api_client, user):
    stored = f.stored_file(user)
    url = client_for(user).get(url_of(stored.id)).json()["url"]

    response = api_client.get(url, HTTP_ACCEPT="image/webp,image/*")

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("private, max-age=")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_file_url_serves_variant_once_made(
    auth_client, user, local_backend, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stored = f.stored_file(user, f.jpeg_bytes((2000, 1000)))

    thumbnail = auth_client.get(url_of(stored.id, "thumbnail")).json()["url"]
    display = auth_client.get(url_of(stored.id, "display")).json()["url"]

    sizes = [Image.open(io.BytesIO(local_backend.fetch(u)[1])).size for u in (thumbnail, display)]
    assert sizes == [(256, 128), (1280, 640)]


def test_file_url_serves_original_until_variant_made(auth_client, user, local_backend):
    stored = f.stored_file(user, f.jpeg_bytes((2000, 1000)))  # on-commit task never ran

    url = auth_client.get(url_of(stored.id, "thumbnail")).json()["url"]

    assert Image.open(io.BytesIO(local_backend.fetch(url)[1])).size == (2000, 1000)


def test_file_url_returns_400_when_variant_unknown(auth_client, user):
    stored = f.stored_file(user)

    response = auth_client.get(url_of(stored.id, "huge"))

    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("get", "/url"), ("get", "/url?variant=thumbnail"), ("delete", "")],
)
def test_file_endpoints_return_404_for_another_users_file(other_client, user, method, suffix):
    stored = f.stored_file(user)

    response = getattr(other_client, method)(f"/api/v1/storage/{stored.id}{suffix}")

    assert_error(response, 404, "not_found")
    assert StoredFile.objects.filter(pk=stored.pk).exists()


def test_file_endpoints_return_404_when_file_expired(auth_client, user):
    stored = f.stored_file(user)
    StoredFile.objects.filter(pk=stored.pk).update(expiry=timezone.now() - timedelta(seconds=1))

    assert_error(auth_client.get(f"/api/v1/storage/{stored.id}"), 404, "not_found")
    assert_error(auth_client.get(url_of(stored.id)), 404, "not_found")


def test_file_detail_returns_storage_item(auth_client, user):
    expiry = timezone.now() + timedelta(days=2)
    stored = f.stored_file(user, tags=["a"], purpose="avatar", expiry=expiry)

    response = auth_client.get(f"/api/v1/storage/{stored.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["file_id"] == str(stored.id)
    assert "id" not in body  # one name for a stored file, as the upload answers it
    assert body["access_level"] == "private"
    assert datetime.fromisoformat(body["expiry"]) == expiry
    assert body["metadata"]["tags"] == ["a"]
    assert body["metadata"]["purpose"] == "avatar"
    assert body["url"].startswith("http://testserver/api/v1/storage/signed/")


def test_delete_removes_blob_and_variants(
    backend, auth_client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stored = f.stored_file(user)
    stored.refresh_from_db()
    keys = stored.blob_keys
    assert len(keys) == 3 and all(backend.exists(key) for key in keys)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(f"/api/v1/storage/{stored.id}")

    assert response.status_code == 204
    assert not StoredFile.objects.filter(pk=stored.pk).exists()
    assert not any(backend.exists(key) for key in keys)


def test_delete_keeps_blobs_when_transaction_rolls_back(user, local_backend):
    from django.db import transaction

    stored = f.stored_file(user)
    with pytest.raises(RuntimeError), transaction.atomic():
        stored.delete()
        raise RuntimeError("rolled back")

    assert local_backend.exists(stored.key)


def test_batch_delete_skips_files_that_are_not_the_callers(
    auth_client, user, other_user, local_backend, django_capture_on_commit_callbacks
):
    mine = [f.stored_file(user) for _ in range(2)]
    theirs = f.stored_file(other_user)
    ids = [str(mine[0].id), str(mine[1].id), str(theirs.id), "00000000-0000-0000-0000-000000000000"]

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete("/api/v1/storage/batch", {"ids": ids}, format="json")

    assert response.status_code == 200
    assert response.json() == {"deleted": 2}
    assert list(StoredFile.objects.all()) == [theirs]
    assert local_backend.exists(theirs.key)
    assert not any(local_backend.exists(stored.key) for stored in mine)


def test_batch_delete_returns_400_when_ids_invalid(auth_client):
    response = auth_client.delete("/api/v1/storage/batch", {"ids": ["nope"]}, format="json")

    assert_error(response, 400, "validation_error")


def test_file_list_pages_the_callers_files_with_bounded_queries(
    auth_client, user, other_user, django_assert_max_num_queries
):
    for n in range(7):
        f.stored_file(user, purpose="progress_photo" if n % 2 else "food_photo")
    f.stored_file(other_user)

    with django_assert_max_num_queries(4):
        small = auth_client.get("/api/v1/storage/files?page_size=2")
    with django_assert_max_num_queries(4):
        large = auth_client.get("/api/v1/storage/files?page_size=50&variant=thumbnail")

    assert small.json()["total"] == 7 and small.json()["hasMore"] is True
    items = large.json()["items"]
    assert len(items) == 7 and large.json()["hasMore"] is False
    assert all(item["url"].startswith("http://testserver/") for item in items)
    created = [item["metadata"]["created_at"] for item in items]
    assert created == sorted(created, reverse=True)


def test_file_list_filters_by_purpose(auth_client, user):
    f.stored_file(user, purpose="avatar")
    f.stored_file(user, purpose="food_photo")

    body = auth_client.get("/api/v1/storage/files?purpose=avatar").json()

    assert [item["metadata"]["purpose"] for item in body["items"]] == ["avatar"]


def test_user_deletion_removes_their_blobs(user, local_backend, django_capture_on_commit_callbacks):
    stored = f.stored_file(user)

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    assert not StoredFile.objects.exists()
    assert not local_backend.exists(stored.key)


def test_media_folder_is_not_served(api_client, user):
    stored = f.stored_file(user)

    for prefix in ("/media/", "/", "/api/v1/storage/"):
        assert api_client.get(f"{prefix}{stored.key}").status_code == 404
