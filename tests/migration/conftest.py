import pytest
from django.db import connection
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs

from tests.migration.standin import BUCKET, StandIn


@pytest.fixture
def standin(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip(
            "The Supabase stand-in is a PostgreSQL database: set DATABASE_URL to a PostgreSQL "
            "server to run the migration importer tests."
        )
    db = StandIn()
    db.create()
    yield db
    db.drop()


@pytest.fixture
def bcrypt_hasher(settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ]


# The storage suite's GCS emulator (gcp-storage-emulator on a free loopback port) and local
# backend, shared rather than started twice.
from tests.storage.conftest import gcs_emulator, local_backend  # noqa: E402, F401


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def bucket(gcs_emulator, monkeypatch, media_root):  # noqa: F811 (the fixture, imported above)
    """The Firebase Storage bucket, empty, in the GCS emulator."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    client = gcs.Client(project="firebase-emulated", credentials=AnonymousCredentials())
    existing = client.lookup_bucket(BUCKET)
    if existing is not None:
        existing.delete(force=True)
    return client.create_bucket(BUCKET)
