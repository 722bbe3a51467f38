"""The whole move, as the issue tells it: Firebase Auth, Supabase and Firebase Storage in,
an old password and a Firebase token still work, the data shows through the API, re-runs
change nothing, a delta brings a change, the report is clean until a row is corrupted."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts import firebase
from accounts.models import User
from food.models import FoodLog
from migration.models import MigrationRun
from tests.accounts.firebase_standin import PROJECT, CertificateServer, SigningKey, claims_for, sign
from tests.migration.standin import BUCKET, download_url
from tests.migration.test_import_firebase_auth import HASH_CONFIG, password_user
from tests.storage import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def _call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def firebase_certs(settings):
    key = SigningKey("e2e-kid")
    with CertificateServer([key]) as server:
        settings.FIREBASE_PROJECT_ID = PROJECT
        settings.FIREBASE_CERTS_URL = server.url
        settings.FIREBASE_TOKENS_UNTIL = None
        firebase.clear_certificate_cache()
        yield key
    firebase.clear_certificate_cache()


@pytest.fixture
def sources(standin, bucket, tmp_path):
    users = [
        password_user("fbAna", "ana@example.com", "ana-firebase-pass", displayName="Ana"),
        password_user("fbBen", "ben@example.com", "ben-firebase-pass"),
    ]
    export = tmp_path / "users.json"
    export.write_text(json.dumps({"users": users}))
    config = tmp_path / "hash_config.json"
    config.write_text(json.dumps(HASH_CONFIG))

    # Supabase knows Ana by her Firebase uid (carried over in raw_user_meta_data).
    ana = standin.add_auth_user(
        email="ana@example.com", password="other", meta={"firebase_uid": "fbAna"}
    )
    bucket.blob("users/ana/meal.jpg").upload_from_string(
        f.jpeg_with_private_metadata(), content_type="image/jpeg"
    )
    meal = standin.add_food_log(
        ana, name="Porridge", calories=310, image_url=download_url("users/ana/meal.jpg")
    )
    gone = standin.add_food_log(ana, name="Soup", image_url=download_url("users/ana/gone.jpg"))
    bucket.blob("users/ana/front.jpg").upload_from_string(
        f.jpeg_with_private_metadata(), content_type="image/jpeg"
    )
    standin.execute(
        "INSERT INTO workouts (id, user_id, name, type, duration, completed, created_at, "
        "progress_photos) VALUES (gen_random_uuid(), %s, 'Legs', 'strength', 40, true, "
        "'2026-02-01 18:00:00', ARRAY[%s])",
        (ana, f"gs://{BUCKET}/users/ana/front.jpg"),
    )
    return {"export": export, "config": config, "meal": meal, "gone": gone}


def _import_all(standin, sources) -> list[str]:
    return [
        _call(
            "import_firebase_auth", str(sources["export"]), "--hash-config", str(sources["config"])
        ),
        _call("import_supabase", "--database-url", standin.url),
        _call("import_firebase_storage", "--bucket", BUCKET),
    ]


def test_the_whole_move(standin, sources, firebase_certs, local_backend):
    _import_all(standin, sources)
    ana = User.objects.get(firebase_uid="fbAna")
    assert User.objects.count() == 2  # Supabase's Ana is the Firebase one, not a second user

    # The old Firebase password logs in, and is re-hashed with the default hasher.
    login = APIClient().post(
        "/api/v1/auth/login",
        {"email": "ana@example.com", "password": "ana-firebase-pass"},
        format="json",
    )
    assert login.status_code == 200, login.content
    ana.refresh_from_db()
    assert not ana.password.startswith("firebase_scrypt")

    # A Firebase ID token is accepted, and exchanged for our own pair.
    token = sign(firebase_certs, claims_for("fbAna"))
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.get("/api/v1/auth/me").json()["id"] == str(ana.pk)
    exchanged = APIClient().post("/api/v1/auth/firebase", {"id_token": token}, format="json")
    assert exchanged.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {exchanged.json()['access_token']}")

    # The imported food log and its photo, through the API, cleaned.
    log = client.get(f"/api/v1/food/logs/{sources['meal']}")
    assert log.status_code == 200
    assert log.json()["name"] == "Porridge"
    status, data, content_type = local_backend.fetch(log.json()["image_url"])
    assert (status, content_type) == (200, "image/jpeg")
    assert b"SecretCam" not in data
    workouts = client.get("/api/v1/workouts").json()
    [workout] = workouts["items"]
    detail = client.get(f"/api/v1/workouts/{workout['id']}").json()["workout"]
    assert len(detail["progress_photo_ids"]) == 1
    storage = MigrationRun.objects.filter(source="firebase_storage").first()
    assert storage.counts["storage_objects"]["reasons"] == {"object not found in the bucket": 1}

    # Everything again: no change anywhere.
    outs = _import_all(standin, sources)
    assert all("No change" in out for out in outs), "\n".join(outs)
    # Each import keeps its own leftovers on the user, neither overwriting the other's.
    ana.refresh_from_db()
    assert "providerUserInfo" in ana.legacy and ana.legacy["supabase"]["aud"] == "authenticated"

    # A delta after one source row changed, then a clean report.
    standin.execute("UPDATE food_logs SET calories = 333 WHERE id = %s", (sources["meal"],))
    _call("import_supabase", "--database-url", standin.url)
    delta = MigrationRun.objects.filter(source="supabase").first()
    assert delta.counts["food_logs"]["updated"] == 1
    assert _call("migration_report").splitlines()[-1] == "OK"

    # One imported row corrupted behind the API's back: the report fails.
    FoodLog.objects.filter(pk=sources["meal"]).update(calories=1)
    with pytest.raises(CommandError):
        _call("migration_report")
