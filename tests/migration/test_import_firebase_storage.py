import io

import pytest
from django.core.management import call_command
from PIL import Image

from food.models import FoodLog
from migration.importers.firebase_storage import object_path
from migration.models import IdMap, MigrationRun, RunStatus
from storage.models import StoredFile
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.migration.standin import BUCKET
from tests.migration.standin import download_url as _download_url
from tests.storage import factories as f
from workouts import services as workout_services

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args):
    out = io.StringIO()
    call_command("import_firebase_storage", "--bucket", BUCKET, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def referenced(bucket):
    owner = UserFactory()
    bucket.blob("users/ana/food/meal 1.jpg").upload_from_string(
        f.jpeg_with_private_metadata(), content_type="image/jpeg"
    )
    bucket.blob("users/ana/progress/front.jpg").upload_from_string(
        f.jpeg_with_private_metadata(), content_type="image/jpeg"
    )
    log = FoodLog.objects.create(
        owner=owner,
        name="Salad",
        calories=200,
        image_url=_download_url("users/ana/food/meal 1.jpg"),
    )
    missing = FoodLog.objects.create(
        owner=owner, name="Soup", calories=150, image_url=_download_url("users/ana/gone.jpg")
    )
    elsewhere = FoodLog.objects.create(
        owner=owner, name="Cake", calories=400, image_url="https://cdn.example.com/cake.jpg"
    )
    workout, _ = workout_services.create_workout(
        owner=owner, data={"name": "Legs", "type": "strength"}
    )
    IdMap.objects.create(
        source_table="workouts",
        old_id=str(workout.pk),
        new_id=workout.pk,
        owner=owner,
        legacy={"progress_photos": [f"gs://{BUCKET}/users/ana/progress/front.jpg"]},
    )
    return {
        "owner": owner,
        "log": log,
        "missing": missing,
        "elsewhere": elsewhere,
        "workout": workout,
    }


def test_object_paths_from_both_reference_forms():
    assert object_path(_download_url("a/b c.jpg"), BUCKET) == "a/b c.jpg"
    assert object_path(f"gs://{BUCKET}/a/b.jpg", BUCKET) == "a/b.jpg"
    assert object_path("gs://other-bucket/a/b.jpg", BUCKET) is None
    assert object_path("https://cdn.example.com/a.jpg", BUCKET) is None


def test_objects_are_cleaned_linked_and_served_and_a_missing_one_is_a_reject(
    referenced, local_backend
):
    out = _run()
    run = MigrationRun.objects.get()
    counts = run.counts["storage_objects"]
    assert (counts["source_rows"], counts["imported"], counts["rejected"]) == (3, 2, 1)
    assert counts["rejects"] == [
        {"id": "users/ana/gone.jpg", "reason": "object not found in the bucket"}
    ]
    assert "rejected 1: object not found in the bucket" in out

    log = FoodLog.objects.get(pk=referenced["log"].pk)
    assert log.image is not None and log.image.owner == referenced["owner"]
    assert FoodLog.objects.get(pk=referenced["missing"].pk).image is None
    assert FoodLog.objects.get(pk=referenced["elsewhere"].pk).image is None

    # Through the API: a signed URL, and the bytes behind it carry no EXIF/GPS.
    response = client_for(referenced["owner"]).get(f"/api/v1/food/logs/{log.pk}")
    assert response.status_code == 200
    url = response.json()["image_url"]
    assert "firebasestorage" not in url
    status, data, content_type = local_backend.fetch(url)
    assert status == 200 and content_type == "image/jpeg"
    assert b"Exif" not in data and b"SecretCam" not in data
    image = Image.open(io.BytesIO(data))
    assert len(image.getexif()) == 0
    assert image.size == (40, 60)  # turned upright

    workout = client_for(referenced["owner"]).get(f"/api/v1/workouts/{referenced['workout'].pk}")
    assert workout.status_code == 200
    assert len(workout.json()["workout"]["progress_photo_ids"]) == 1

    # Another user cannot see the imported file.
    other = client_for(UserFactory()).get(f"/api/v1/food/logs/{log.pk}")
    assert other.status_code == 404

    # Re-run: nothing changes, the missing object is still a reject.
    files = StoredFile.objects.count()
    out = _run()
    again = MigrationRun.objects.order_by("-started_at").first()
    assert again.counts["storage_objects"]["unchanged"] == 2
    assert again.counts["storage_objects"]["rejected"] == 1
    assert "No change" in out
    assert StoredFile.objects.count() == files

    call_command("migration_report", str(again.pk), stdout=io.StringIO())


def test_dry_run_uploads_nothing(referenced):
    out = _run("--dry-run")
    assert "nothing was written" in out
    assert MigrationRun.objects.get().status == RunStatus.DRY_RUN
    assert not StoredFile.objects.exists()
    assert FoodLog.objects.get(pk=referenced["log"].pk).image is None
