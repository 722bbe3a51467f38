"""What one upload may cost a worker: the batch pixel budget (read from headers), the bound
on concurrent decodes per process, and JPEG draft decoding."""

import io
import threading
from contextlib import contextmanager

import pytest
from PIL import Image, ImageFile

from ai_assistant.recognition import pipeline as recognition
from storage import images, services
from storage.models import StoredFile
from tests.asserts import assert_error
from tests.storage import factories as f

UPLOAD = "/api/v1/storage/upload"
BATCH = "/api/v1/storage/batch-upload"
CAP = 40_000_000


def post_batch(client, files):
    return client.post(BATCH, {"files": files}, format="multipart")


@pytest.fixture
def decodes(monkeypatch):
    """The sizes of the images decode_image decoded, in order."""
    sizes: list[tuple[int, int]] = []
    real = images.decode_image

    def spy(*args, **kwargs):
        decoded = real(*args, **kwargs)
        sizes.append(decoded.image.size)
        return decoded

    monkeypatch.setattr(images, "decode_image", spy)
    return sizes


@contextmanager
def slot_taken_elsewhere():
    """Another thread holds a decode slot (a decode in progress) until the block ends."""
    taken, done = threading.Event(), threading.Event()

    def hold():
        with images.decode_slot():
            taken.set()
            done.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(timeout=5)
    try:
        yield
    finally:
        done.set()
        holder.join(timeout=5)


# --- the batch pixel budget ------------------------------------------------------------------
def test_batch_over_pixel_budget_is_refused_whole_before_any_decode(
    auth_client, user, settings, local_backend, decodes
):
    settings.STORAGE_MAX_BATCH_PIXELS = 10_000
    files = [f.upload(f.jpeg_bytes((64, 64)), f"{n}.jpg") for n in range(3)]  # 3 x 4,096

    response = post_batch(auth_client, files)

    assert assert_error(response, 413, "batch_too_large")["details"] == {
        "max_batch_pixels": 10_000,
        "batch_pixels": 12_288,
    }
    assert decodes == []
    assert not StoredFile.objects.filter(owner=user).exists()
    assert local_backend.keys() == set()


def test_batch_within_pixel_budget_is_stored(auth_client, settings):
    settings.STORAGE_MAX_BATCH_PIXELS = 12_288
    files = [f.upload(f.jpeg_bytes((64, 64)), f"{n}.jpg") for n in range(3)]

    response = post_batch(auth_client, files)

    assert response.status_code == 201, response.content
    assert len(response.json()["items"]) == 3


def test_batch_budget_counts_only_files_that_would_be_decoded(auth_client, settings):
    settings.STORAGE_MAX_BATCH_PIXELS = 5_000
    settings.STORAGE_MAX_PIXELS = 4_096
    files = [
        f.upload(f.jpeg_bytes((64, 64)), "a.jpg"),
        f.upload(f.png_declaring(10_000, 10_000), "b.png"),  # over the per-file cap
        f.upload(f.WINDOWS_EXE, "c.jpg"),
    ]

    response = post_batch(auth_client, files)

    assert response.status_code == 201, response.content
    body = response.json()
    assert [item["metadata"]["filename"] for item in body["items"]] == ["a.jpg"]
    assert [(e["index"], e["error"]["code"]) for e in body["errors"]] == [
        (1, "image_too_large"),
        (2, "unsupported_media_type"),
    ]


# --- decode slots ----------------------------------------------------------------------------
def test_upload_answers_busy_while_every_decode_slot_is_taken(auth_client, user, settings):
    settings.STORAGE_MAX_CONCURRENT_DECODES = 1
    settings.STORAGE_DECODE_WAIT_SECONDS = 0.05

    with slot_taken_elsewhere():
        response = auth_client.post(UPLOAD, {"file": f.upload(f.jpeg_bytes())}, format="multipart")

    assert response.status_code == 503, response.content
    error = response.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("service_unavailable", "busy")
    assert response["Retry-After"] == "1"
    assert not StoredFile.objects.filter(owner=user).exists()
    # Once the slot is free again, the same upload goes through.
    again = auth_client.post(UPLOAD, {"file": f.upload(f.jpeg_bytes())}, format="multipart")
    assert again.status_code == 201, again.content


def test_batch_answers_busy_whole_while_every_decode_slot_is_taken(auth_client, user, settings):
    settings.STORAGE_MAX_CONCURRENT_DECODES = 1
    settings.STORAGE_DECODE_WAIT_SECONDS = 0.05
    files = [f.upload(f.jpeg_bytes(), f"{n}.jpg") for n in range(2)]

    with slot_taken_elsewhere():
        response = post_batch(auth_client, files)

    assert_error(response, 503, "service_unavailable")
    assert not StoredFile.objects.filter(owner=user).exists()


def test_decode_waits_for_a_slot_that_frees_up(settings, decodes):
    settings.STORAGE_MAX_CONCURRENT_DECODES = 1
    settings.STORAGE_DECODE_WAIT_SECONDS = 30
    taken, release = threading.Event(), threading.Event()

    def hold():
        with images.decode_slot():
            taken.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(timeout=5)
    # Frees the slot while the decode below (most likely) waits for it: it must wait and
    # go through, not answer busy.
    waiter = threading.Timer(0.2, release.set)
    waiter.start()

    encoded = images.normalise_image(io.BytesIO(f.jpeg_bytes()), max_pixels=CAP)

    holder.join(timeout=5)
    assert release.is_set()
    assert (encoded.width, encoded.height) == (64, 48)
    assert decodes == [(64, 48)]


def test_concurrent_decodes_never_exceed_the_slots(settings, monkeypatch):
    settings.STORAGE_MAX_CONCURRENT_DECODES = 2
    settings.STORAGE_DECODE_WAIT_SECONDS = 30
    lock = threading.Lock()
    inside = {"now": 0, "most": 0}
    started = threading.Barrier(4)
    real_load = ImageFile.ImageFile.load

    def counting_load(image):
        with lock:
            inside["now"] += 1
            inside["most"] = max(inside["most"], inside["now"])
        try:
            threading.Event().wait(0.05)  # a decode that takes a while
            return real_load(image)
        finally:
            with lock:
                inside["now"] -= 1

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    data = f.png_bytes((200, 200))
    results = []

    def decode():
        started.wait(timeout=5)
        results.append(images.normalise_image(io.BytesIO(data), max_pixels=CAP))

    threads = [threading.Thread(target=decode) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 4
    assert 1 <= inside["most"] <= 2


def test_variant_task_is_bound_by_the_same_slots(user, settings):
    stored = f.stored_file(user)
    settings.STORAGE_MAX_CONCURRENT_DECODES = 1
    settings.STORAGE_DECODE_WAIT_SECONDS = 0.05

    with slot_taken_elsewhere(), pytest.raises(images.DecoderBusy):
        services.make_variants(file_id=stored.id)

    stored.refresh_from_db()
    assert stored.variants == {}


# --- JPEG draft decoding ---------------------------------------------------------------------
def test_jpeg_is_decoded_at_reduced_scale_when_only_a_smaller_copy_is_needed():
    data = f.jpeg_bytes((4000, 3000))

    decoded = images.decode_image(io.BytesIO(data), max_pixels=CAP, max_side=1024)
    full = images.decode_image(io.BytesIO(data), max_pixels=CAP)

    # 1/2 scale: the largest reduction that still covers 1024 x 768.
    assert decoded.image.size == (2000, 1500)
    assert full.image.size == (4000, 3000)


def test_jpeg_draft_result_is_the_right_size_and_picture():
    encoded = images.normalise_image(
        io.BytesIO(f.jpeg_bytes((4000, 3000))), max_pixels=CAP, max_side=1024
    )

    image = Image.open(io.BytesIO(encoded.data)).convert("RGB")
    assert image.size == (encoded.width, encoded.height) == (1024, 768)
    assert _close(image.getpixel((100, 384)), f.LEFT)
    assert _close(image.getpixel((900, 384)), f.RIGHT)


def test_draft_honours_exif_orientation():
    data = f.jpeg_bytes((4000, 3000), exif=f.tagged_exif(orientation=6))

    encoded = images.normalise_image(io.BytesIO(data), max_pixels=CAP, max_side=1024)

    image = Image.open(io.BytesIO(encoded.data)).convert("RGB")
    assert image.size == (768, 1024)
    assert _close(image.getpixel((384, 100)), f.LEFT)  # red, on the left, is now on top
    assert _close(image.getpixel((384, 900)), f.RIGHT)


def test_png_is_decoded_whole(decodes):
    images.normalise_image(io.BytesIO(f.png_bytes((2400, 1800))), max_pixels=CAP, max_side=256)

    assert decodes == [(2400, 1800)]


def test_recognition_decodes_a_large_jpeg_at_reduced_scale(decodes):
    encoded = recognition.preprocess_photo(io.BytesIO(f.jpeg_bytes((4000, 3000))))

    assert decodes == [(2000, 1500)]
    assert (encoded.width, encoded.height) == (1024, 768)


def test_variants_decode_a_large_jpeg_original_at_reduced_scale(user, decodes):
    stored = f.stored_file(user, f.jpeg_bytes((4000, 3000)))  # kept at full size
    decodes.clear()

    services.make_variants(file_id=stored.id)

    stored.refresh_from_db()
    assert decodes == [(2000, 1500)]
    assert (stored.width, stored.height) == (4000, 3000)
    assert (stored.variants["display"]["width"], stored.variants["display"]["height"]) == (
        1280,
        960,
    )


def _close(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))
