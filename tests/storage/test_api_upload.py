import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from storage.models import StoredFile
from tests.asserts import assert_error
from tests.storage import factories as f

UPLOAD = "/api/v1/storage/upload"
BATCH = "/api/v1/storage/batch-upload"


def post_file(client, data: bytes, name="photo.jpg", content_type="image/jpeg", **fields):
    return client.post(
        UPLOAD, {"file": f.upload(data, name, content_type), **fields}, format="multipart"
    )


@pytest.mark.parametrize("kind", list(f.TYPES))
def test_upload_stores_each_accepted_type(kind, backend, auth_client, user):
    make, stored_type = f.TYPES[kind]

    response = post_file(auth_client, make(), name=f"photo.{kind}", content_type="image/x-any")

    assert response.status_code == 201, response.content
    body = response.json()
    metadata = body["metadata"]
    assert metadata["content_type"] == stored_type
    assert metadata["user_id"] == str(user.id)
    assert metadata["tags"] == []
    assert {"created_at", "updated_at", "size"} <= set(metadata)
    assert body["url"].startswith("http")
    stored = StoredFile.objects.get(pk=body["file_id"])
    data = backend.read(stored.key)
    assert len(data) == metadata["size"] == stored.size
    assert Image.open(io.BytesIO(data)).size == (64, 48)
    status, served, served_type = backend.fetch(body["url"])
    assert (status, served) == (200, data)
    assert served_type == stored_type


def test_upload_reads_type_from_bytes_not_from_client(auth_client):
    response = post_file(auth_client, f.png_bytes(), name="holiday.jpg", content_type="image/jpeg")

    assert response.status_code == 201
    assert response.json()["metadata"]["content_type"] == "image/png"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (f.WINDOWS_EXE, "photo.jpg"),
        (f.ELF_BINARY, "photo.png"),
        (f.SVG, "photo.svg"),
        (f.GIF, "photo.gif"),
    ],
    ids=["renamed-exe", "renamed-elf", "svg", "gif"],
)
def test_upload_returns_415_when_not_an_accepted_image(data, name, local_backend, auth_client):
    response = post_file(auth_client, data, name=name)

    assert_error(response, 415, "unsupported_media_type")
    assert not StoredFile.objects.exists()
    assert local_backend.keys() == set()


def test_upload_returns_400_when_bytes_do_not_match_their_type(local_backend, auth_client):
    response = post_file(auth_client, f.TRUNCATED_JPEG)

    assert_error(response, 400, "invalid_image")
    assert not StoredFile.objects.exists()
    assert local_backend.keys() == set()


def test_upload_returns_400_when_decompression_bomb(auth_client):
    response = post_file(auth_client, f.png_declaring(10_000, 10_000), name="bomb.png")

    assert_error(response, 400, "image_too_large")
    assert not StoredFile.objects.exists()


def test_upload_returns_400_when_over_pixel_cap(auth_client, settings):
    settings.STORAGE_MAX_PIXELS = 1_000

    response = post_file(auth_client, f.jpeg_bytes((64, 48)))

    error = assert_error(response, 400, "image_too_large")
    assert error["details"] == {"max_pixels": 1_000}


def test_upload_returns_413_when_file_passes_limit_while_streaming(
    auth_client, settings, monkeypatch
):
    settings.STORAGE_MAX_UPLOAD_BYTES = 100 * 1024
    monkeypatch.setattr(
        "storage.services.upload_file", lambda **kw: pytest.fail("the body was parsed in full")
    )
    # Under the declared-length bound (one file + overhead) but over the per-file limit:
    # the streaming counter is what refuses it.
    big = b"\xff\xd8\xff" + b"\x00" * (120 * 1024)

    response = post_file(auth_client, big)

    error = assert_error(response, 413, "file_too_large")
    assert error["details"] == {"max_bytes": 100 * 1024}
    assert not StoredFile.objects.exists()


def test_upload_returns_413_when_declared_length_is_too_large(auth_client, settings):
    settings.STORAGE_MAX_UPLOAD_BYTES = 100 * 1024

    response = auth_client.generic(
        "POST",
        UPLOAD,
        b"--x\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )

    assert_error(response, 413, "payload_too_large")


def test_upload_returns_413_when_quota_exceeded(auth_client, user, settings):
    first = post_file(auth_client, f.jpeg_bytes())
    assert first.status_code == 201
    settings.STORAGE_USER_QUOTA_BYTES = first.json()["metadata"]["size"] + 100

    response = post_file(auth_client, f.jpeg_bytes((128, 96)))

    error = assert_error(response, 413, "quota_exceeded")
    details = error["details"]
    assert details["used_bytes"] == first.json()["metadata"]["size"]
    assert StoredFile.objects.filter(owner=user).count() == 1


def test_upload_counts_quota_per_user(auth_client, other_user, settings):
    f.stored_file(other_user, f.jpeg_bytes((256, 256)))
    settings.STORAGE_USER_QUOTA_BYTES = 5_000

    response = post_file(auth_client, f.jpeg_bytes())

    assert response.status_code == 201


def test_upload_strips_metadata_and_applies_orientation(backend, auth_client):
    response = post_file(auth_client, f.jpeg_with_private_metadata())

    assert response.status_code == 201
    stored = StoredFile.objects.get(pk=response.json()["file_id"])
    data = backend.read(stored.key)
    for marker in (b"SecretCam", b"SecretComment", b"SecretXmp", b"Exif", b"ICC_PROFILE"):
        assert marker not in data
    image = Image.open(io.BytesIO(data))
    assert len(image.getexif()) == 0
    assert image.size == (40, 60)
    assert (stored.width, stored.height) == (40, 60)


def test_upload_keeps_options_and_sanitises_filename(auth_client):
    response = post_file(
        auth_client,
        f.jpeg_bytes(),
        name="../../etc/my\x00 lunch.jpg",
        tags=["lunch", "salad", "lunch", " "],
        purpose="food_photo",
        access_level="shared",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["metadata"]["tags"] == ["lunch", "salad"]
    assert body["metadata"]["purpose"] == "food_photo"
    assert body["metadata"]["filename"] == "my lunch.jpg"
    stored = StoredFile.objects.get(pk=body["file_id"])
    assert stored.access_level == "shared"
    assert "lunch" not in stored.key and stored.key.startswith("uploads/")
    assert len(stored.sha256) == 64


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"purpose": "selfie"}, "purpose"),
        ({"access_level": "public"}, "access_level"),
        ({"tags": ["x" * 51]}, "tags"),
    ],
)
def test_upload_returns_400_when_options_invalid(auth_client, fields, field):
    response = post_file(auth_client, f.jpeg_bytes(), **fields)

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"]["fields"]
    assert not StoredFile.objects.exists()


def test_upload_returns_400_when_expiry_in_the_past(auth_client):
    past = (timezone.now() - timedelta(minutes=1)).isoformat()

    response = post_file(auth_client, f.jpeg_bytes(), expiry=past)

    error = assert_error(response, 400, "validation_error")
    assert "expiry" in error["details"]["fields"]


def test_upload_returns_400_when_file_missing(auth_client):
    response = auth_client.post(UPLOAD, {"purpose": "other"}, format="multipart")

    error = assert_error(response, 400, "validation_error")
    assert "file" in error["details"]["fields"]


def test_upload_returns_415_when_body_is_json(auth_client):
    response = auth_client.post(UPLOAD, {"file": "aGVsbG8="}, format="json")

    assert_error(response, 415, "unsupported_media_type")


def test_upload_returns_401_when_anonymous(api_client):
    response = post_file(api_client, f.jpeg_bytes())

    assert_error(response, 401, "not_authenticated")


def test_batch_upload_reports_failures_per_index(backend, auth_client, user):
    files = [
        f.upload(f.jpeg_bytes(), "a.jpg"),
        f.upload(f.WINDOWS_EXE, "b.jpg"),
        f.upload(f.png_bytes(), "c.png"),
        f.upload(f.png_declaring(10_000, 10_000), "d.png"),
        f.upload(b"", "e.jpg"),
    ]

    response = auth_client.post(
        BATCH, {"files": files, "tags": ["week1"], "purpose": "progress_photo"}, format="multipart"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert [item["metadata"]["filename"] for item in body["items"]] == ["a.jpg", "c.png"]
    assert all(item["metadata"]["tags"] == ["week1"] for item in body["items"])
    errors = {error["index"]: error["error"]["code"] for error in body["errors"]}
    assert errors == {
        1: "unsupported_media_type",
        3: "image_too_large",
        4: "unsupported_media_type",
    }
    stored = StoredFile.objects.filter(owner=user)
    assert stored.count() == 2
    assert {s.purpose for s in stored} == {"progress_photo"}
    for item in body["items"]:
        status, _, _ = backend.fetch(item["url"])
        assert status == 200


def test_batch_upload_reports_oversized_file_at_its_index(auth_client, settings):
    settings.STORAGE_MAX_UPLOAD_BYTES = 100 * 1024
    oversized = b"\xff\xd8\xff" + b"\x00" * (150 * 1024)
    files = [
        f.upload(f.jpeg_bytes(), "a.jpg"),
        f.upload(oversized, "b.jpg"),
        f.upload(f.SVG, "c.svg"),
        f.upload(f.png_bytes(), "d.png"),
    ]

    response = auth_client.post(BATCH, {"files": files}, format="multipart")

    assert response.status_code == 201, response.content
    body = response.json()
    assert [item["metadata"]["filename"] for item in body["items"]] == ["a.jpg", "d.png"]
    assert [(e["index"], e["error"]["code"]) for e in body["errors"]] == [
        (1, "file_too_large"),
        (2, "unsupported_media_type"),
    ]


def test_batch_upload_reports_errors_only_when_every_file_is_oversized(auth_client, settings):
    settings.STORAGE_MAX_UPLOAD_BYTES = 100 * 1024
    oversized = b"\x00" * (120 * 1024)
    files = [f.upload(oversized, "a.jpg"), f.upload(oversized, "b.jpg")]

    response = auth_client.post(BATCH, {"files": files}, format="multipart")

    assert response.status_code == 201, response.content
    assert response.json()["items"] == []
    assert [e["index"] for e in response.json()["errors"]] == [0, 1]
    assert not StoredFile.objects.exists()


def test_batch_upload_returns_400_when_more_than_ten_files(auth_client):
    files = [f.upload(f.jpeg_bytes(), f"{n}.jpg") for n in range(11)]

    response = auth_client.post(BATCH, {"files": files}, format="multipart")

    error = assert_error(response, 400, "validation_error")
    assert "files" in error["details"]["fields"]
    assert not StoredFile.objects.exists()


def test_batch_upload_returns_400_when_no_files(auth_client):
    response = auth_client.post(BATCH, {"tags": ["x"]}, format="multipart")

    assert_error(response, 400, "validation_error")


def test_batch_upload_reports_quota_exceeded_per_file(auth_client, settings):
    settings.STORAGE_USER_QUOTA_BYTES = 2_500
    files = [f.upload(f.jpeg_bytes((32, 32)), f"{n}.jpg") for n in range(4)]

    response = auth_client.post(BATCH, {"files": files}, format="multipart")

    body = response.json()
    assert response.status_code == 201
    assert body["items"] and body["errors"]
    assert {error["error"]["code"] for error in body["errors"]} == {"quota_exceeded"}
    assert sum(item["metadata"]["size"] for item in body["items"]) <= 2_500
