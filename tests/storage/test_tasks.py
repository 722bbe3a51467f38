import io
from datetime import timedelta

from django.utils import timezone
from PIL import Image

from storage import services, tasks
from storage.models import StoredFile
from tests.storage import factories as f


def test_make_variants_produces_thumbnail_and_display(backend, user):
    stored = f.stored_file(user, f.png_bytes((2400, 1800)))

    tasks.make_variants.delay(str(stored.id))

    stored.refresh_from_db()
    expected = {"thumbnail": (256, 192), "display": (1280, 960)}
    for name, size in expected.items():
        made = stored.variants[name]
        image = Image.open(io.BytesIO(backend.read(made["key"])))
        assert image.size == size == (made["width"], made["height"])
        assert image.format == "PNG" and made["content_type"] == "image/png"
        assert made["size"] == len(backend.read(made["key"]))


def test_make_variants_does_nothing_when_run_twice(user, local_backend):
    stored = f.stored_file(user)
    tasks.make_variants.delay(str(stored.id))
    stored.refresh_from_db()
    first = dict(stored.variants)
    keys_before = local_backend.keys()

    tasks.make_variants.delay(str(stored.id))

    stored.refresh_from_db()
    assert stored.variants == first
    assert local_backend.keys() == keys_before


def test_make_variants_does_nothing_when_file_deleted(user, local_backend):
    stored = f.stored_file(user)
    StoredFile.objects.filter(pk=stored.pk).delete()
    local_backend_keys = local_backend.keys()

    tasks.make_variants.delay(str(stored.id))

    assert local_backend.keys() == local_backend_keys


def test_upload_queues_variants_after_commit(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        stored = f.stored_file(user)

    assert StoredFile.objects.get(pk=stored.pk).variants == {}
    for callback in callbacks:
        callback()
    assert set(StoredFile.objects.get(pk=stored.pk).variants) == {"thumbnail", "display"}


def test_delete_expired_files_removes_only_expired(
    user, local_backend, django_capture_on_commit_callbacks
):
    expired = f.stored_file(user, expiry=timezone.now() + timedelta(hours=1))
    kept = f.stored_file(user, expiry=timezone.now() + timedelta(days=1))
    forever = f.stored_file(user)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = services.delete_expired_files(now=timezone.now() + timedelta(hours=2))

    assert deleted == 1
    assert set(StoredFile.objects.all()) == {kept, forever}
    assert not local_backend.exists(expired.key)
    assert local_backend.exists(kept.key)


def test_delete_expired_files_task_is_scheduled(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["storage-delete-expired-files"]

    assert schedule["task"] == tasks.delete_expired_files.name


def test_upload_succeeds_when_queueing_its_variants_fails(
    auth_client, local_backend, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OSError("broker unreachable")

    monkeypatch.setattr(tasks.make_variants, "delay", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            "/api/v1/storage/upload", {"file": f.upload(f.jpeg_bytes())}, format="multipart"
        )

    assert response.status_code == 201
    assert StoredFile.objects.get().variants == {}


def test_a_copy_of_an_owners_file_gets_its_variants_copied_without_a_decode(
    backend, user, other_user, monkeypatch, django_capture_on_commit_callbacks
):
    data = f.png_bytes((2400, 1800))
    first, copy, theirs = (f.stored_file(owner, data) for owner in (user, user, other_user))
    tasks.make_variants.delay(str(first.id))
    first.refresh_from_db()

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded")

    with monkeypatch.context() as patched:
        patched.setattr(services.images, "decode_image", no_decode)
        tasks.make_variants.delay(str(copy.id))
    tasks.make_variants.delay(str(theirs.id))  # another owner's copy is decoded for itself

    copy.refresh_from_db()
    assert set(copy.variants) == set(first.variants) == {"thumbnail", "display"}
    for name, made in copy.variants.items():
        original = first.variants[name]
        assert made["key"] != original["key"]
        assert backend.read(made["key"]) == backend.read(original["key"])
        assert {k: v for k, v in made.items() if k != "key"} == {
            k: v for k, v in original.items() if k != "key"
        }
    # Its own blobs: they outlive the file they were copied from.
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_file(owner=user, file_id=first.id)
    assert not backend.exists(first.variants["display"]["key"])
    assert all(backend.read(made["key"]) for made in copy.variants.values())
    theirs.refresh_from_db()
    assert set(theirs.variants) == {"thumbnail", "display"}
