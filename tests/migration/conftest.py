import pytest
from django.conf import settings

from tests.migration.standin import StandIn


@pytest.fixture
def standin(transactional_db):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
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
