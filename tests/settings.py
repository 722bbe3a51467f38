"""Settings for the test suite: the real settings, with per-run isolation and speed-ups.

With DATABASE_URL / REDIS_URL set (as in CI) the suite runs against PostgreSQL and Redis;
every run gets its own database name, key prefixes and media folder, so runs on one machine
never meet. Under pytest-xdist each worker of a run is a run of its own in that sense: its
id (PYTEST_XDIST_WORKER, which the processes a test starts inherit) is part of RUN_ID.
"""

import os
import uuid

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 48)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from fitness.settings import *  # noqa: F403
from fitness.settings import CACHES, CHANNEL_LAYERS, DATABASES, REDIS_URL

# Set once by the first process that loads these settings (pytest's main process under
# xdist), and inherited by its xdist workers and by the processes the tests start.
os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:10])
RUN_ID = "_".join(filter(None, (os.environ["TEST_RUN_ID"], os.environ.get("PYTEST_XDIST_WORKER"))))

DATABASES["default"].setdefault("TEST", {})["NAME"] = (
    f"test_fitness_{RUN_ID}"
    if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
    else None
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's, with a flush at the end of transactional tests that deletes instead of
    # truncating (the reason is in tests/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "tests.postgresql"
if REDIS_URL:
    CACHES["default"]["KEY_PREFIX"] = f"test-{RUN_ID}"
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"test-{RUN_ID}-asgi"

# Hashing with Argon2 costs ~50 ms a call; the suite checks Argon2 is configured, not its speed.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "accounts.hashers.FirebaseScryptPasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
]
# The test client speaks plain HTTP without a load balancer's X-Forwarded-Proto; the
# redirect production has by default is tested on its own (tests/fitness/test_deploy_check.py).
SECURE_SSL_REDIRECT = False
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = f"/tmp/fitness-test-media-{RUN_ID}"
# The admin tests log in with force_login; the two-factor flow has its own tests
# (tests/accounts/test_admin_security.py), which turn this on.
ADMIN_REQUIRE_2FA = False
# The admin tests name its paths; an ADMIN_URL in the caller's environment must not move them.
ADMIN_URL = "admin/"
# The tests scrape /metrics with this token (tests/scrape.py).
METRICS_TOKEN = "scrape-token-for-tests"
