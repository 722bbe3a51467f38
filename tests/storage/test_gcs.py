"""The GCS backend against gcp-storage-emulator. The emulator does not check signatures,
so the tests verify each V4 signed URL themselves with the key's public half."""

import hashlib
import runpy
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from google.oauth2 import service_account

from storage import selectors
from storage.models import StoredFile
from tests.conftest import client_for
from tests.factories import DEFAULT_PASSWORD
from tests.storage import factories as f
from tests.storage.conftest import SETTINGS_FILE


def verify_v4_signature(url: str, public_key) -> dict[str, str]:
    """Rebuilds GCS's V4 canonical request and string to sign from the URL and checks the
    RSA-SHA256 signature. Returns the signed query parameters."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(params.pop("X-Goog-Signature"))
    canonical_query = "&".join(
        f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}"
        for key, value in sorted(params.items())
    )
    assert params["X-Goog-SignedHeaders"] == "host"
    canonical_request = "\n".join(
        [
            "GET",
            parts.path,
            canonical_query,
            f"host:{parts.netloc}\n",
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            params["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    public_key.verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return params


def test_gcs_signed_url_carries_valid_v4_signature(
    gcs_backend, auth_client, user, service_account_key
):
    private_key, info = service_account_key
    stored = f.stored_file(user)

    body = auth_client.get(f"/api/v1/storage/{stored.id}/url").json()

    params = verify_v4_signature(body["url"], private_key.public_key())
    assert params["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert params["X-Goog-Credential"].startswith(info["client_email"] + "/")
    assert params["X-Goog-Expires"] == "900"
    signed_at = datetime.strptime(params["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert abs(signed_at + timedelta(seconds=900) - expires_at) <= timedelta(seconds=2)
    assert urlsplit(body["url"]).path == f"/{gcs_backend.bucket.name}/{stored.key}"
    status, data, _ = gcs_backend.fetch(body["url"])
    assert status == 200 and data == gcs_backend.read(stored.key)


def test_gcs_signed_url_lifetime_follows_setting(gcs_backend, user, settings, service_account_key):
    settings.STORAGE_URL_TTL_SECONDS = 300
    stored = f.stored_file(user)

    params = verify_v4_signature(selectors.signed_url(stored), service_account_key[0].public_key())

    assert params["X-Goog-Expires"] == "300"


@pytest.mark.parametrize(
    ("old", "new"),
    [("X-Goog-Expires=900", "X-Goog-Expires=604800"), ("/uploads/", "/uploads/x")],
    ids=["longer-life", "other-object"],
)
def test_gcs_signed_url_fails_verification_when_tampered(
    gcs_backend, user, service_account_key, old, new
):
    stored = f.stored_file(user)
    url = selectors.signed_url(stored)
    assert old in url

    with pytest.raises(InvalidSignature):
        verify_v4_signature(url.replace(old, new), service_account_key[0].public_key())


def test_gcs_signed_url_fails_verification_with_another_key(gcs_backend, user):
    from cryptography.hazmat.primitives.asymmetric import rsa

    stored = f.stored_file(user)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    with pytest.raises(InvalidSignature):
        verify_v4_signature(selectors.signed_url(stored), stranger.public_key())


def test_gcs_variant_urls_point_at_variant_blobs(
    gcs_backend, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stored = f.stored_file(user, f.jpeg_bytes((600, 300)))
    stored.refresh_from_db()

    url = selectors.signed_url(stored, variant="thumbnail")

    assert urlsplit(url).path.endswith(stored.variants["thumbnail"]["key"])
    status, data, content_type = gcs_backend.fetch(url)
    assert status == 200 and content_type == "image/jpeg"
    assert data == gcs_backend.read(stored.variants["thumbnail"]["key"])


def test_gcs_failed_record_removes_uploaded_blob(gcs_backend, user, settings):
    settings.STORAGE_USER_QUOTA_BYTES = 10
    before = gcs_backend.keys()

    with pytest.raises(Exception, match="storage is full"):
        f.stored_file(user)

    assert gcs_backend.keys() == before
    assert not StoredFile.objects.exists()


def _settings_with(monkeypatch, **env) -> dict:
    for name in ("GS_BUCKET_NAME", "GS_CREDENTIALS", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_settings_use_local_folder_when_no_bucket(monkeypatch):
    configured = _settings_with(monkeypatch)

    default = configured["STORAGES"]["default"]
    assert default["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert default["OPTIONS"]["file_permissions_mode"] == 0o600


def test_settings_sign_and_call_with_key_when_bucket_and_key(
    monkeypatch, tmp_path, service_account_key
):
    import json

    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(service_account_key[1]))

    configured = _settings_with(monkeypatch, GS_BUCKET_NAME="photos", GS_CREDENTIALS=str(key_file))

    options = configured["STORAGES"]["default"]["OPTIONS"]
    assert configured["STORAGES"]["default"]["BACKEND"] == (
        "storages.backends.gcloud.GoogleCloudStorage"
    )
    assert isinstance(configured["GS_CREDENTIALS"], service_account.Credentials)
    assert options["credentials"] is configured["GS_CREDENTIALS"]
    assert options["bucket_name"] == "photos"
    assert options["iam_sign_blob"] is False
    assert options["expiration"] == timedelta(seconds=900)


def test_settings_sign_with_iam_when_bucket_without_key(monkeypatch):
    configured = _settings_with(monkeypatch, GS_BUCKET_NAME="photos")

    options = configured["STORAGES"]["default"]["OPTIONS"]
    assert configured["GS_CREDENTIALS"] is None
    assert options["iam_sign_blob"] is True


def test_gcs_account_deletion_removes_every_blob_after_commit(
    gcs_backend, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stored = [f.stored_file(user), f.stored_file(user, f.png_bytes())]
    keys = {key for file in stored for key in StoredFile.objects.get(pk=file.pk).blob_keys}
    assert len(keys) == 6  # two originals, each with two variants
    assert keys <= gcs_backend.keys()

    with django_capture_on_commit_callbacks() as after_commit:
        response = client_for(user).delete(
            "/api/v1/users/me", {"password": DEFAULT_PASSWORD}, format="json"
        )
        assert response.status_code == 204
        # Nothing leaves the bucket before the deletion has committed.
        assert keys <= gcs_backend.keys()
    for callback in after_commit:
        callback()

    assert not keys & gcs_backend.keys()
