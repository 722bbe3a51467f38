"""Storage fixtures: a private media folder per test, and the GCS backend against
gcp-storage-emulator (started here on a free loopback port, in memory) with a throwaway
service-account key that signs URLs."""

import json
import logging
import runpy
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.files.storage import default_storage
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "fitness" / "settings.py"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def gcs_emulator():
    # One log line per emulated request would drown the output of a failing test.
    logging.getLogger("gcp_storage_emulator").setLevel(logging.WARNING)
    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def service_account_key():
    """(private key, its JSON key file contents) for a made-up service account."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "fitness-test",
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": "uploader@fitness-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return key, info


@dataclass
class Backend:
    """What a test needs to look behind the API, whichever backend is on."""

    name: str
    client: object  # APIClient for following local links
    bucket: object | None = None

    def read(self, key: str) -> bytes:
        if self.bucket is not None:
            return self.bucket.blob(key).download_as_bytes()
        with default_storage.open(key, "rb") as blob:
            return blob.read()

    def exists(self, key: str) -> bool:
        if self.bucket is not None:
            return self.bucket.get_blob(key) is not None
        return default_storage.exists(key)

    def keys(self) -> set[str]:
        if self.bucket is not None:
            return {blob.name for blob in self.bucket.list_blobs()}
        root = Path(default_storage.location)
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

    def fetch(self, url: str) -> tuple[int, bytes, str]:
        """Follows a signed URL as a phone would: (status, body, content type)."""
        if self.bucket is not None:
            response = httpx.get(url)
            return response.status_code, response.content, response.headers.get("content-type")
        response = self.client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, body, response["Content-Type"]


@pytest.fixture
def gcs_backend(settings, monkeypatch, tmp_path, gcs_emulator, service_account_key, api_client):
    """The GCS backend configured the way production is: by running fitness/settings.py
    with GS_BUCKET_NAME, GS_CREDENTIALS (a key file) and STORAGE_EMULATOR_HOST set."""
    _, info = service_account_key
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(info))
    bucket_name = f"fitness-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    monkeypatch.setenv("GS_BUCKET_NAME", bucket_name)
    monkeypatch.setenv("GS_CREDENTIALS", str(key_file))
    configured = runpy.run_path(str(SETTINGS_FILE))
    bucket = gcs.Client(project="fitness-test", credentials=AnonymousCredentials()).create_bucket(
        bucket_name
    )
    settings.STORAGES = configured["STORAGES"]
    settings.GS_CREDENTIALS = configured["GS_CREDENTIALS"]
    settings.GS_BUCKET_NAME = bucket_name
    yield Backend("gcs", api_client, bucket)


@pytest.fixture
def local_backend(api_client):
    return Backend("local", api_client)


@pytest.fixture(params=["local", "gcs"])
def backend(request):
    return request.getfixturevalue(f"{request.param}_backend")
