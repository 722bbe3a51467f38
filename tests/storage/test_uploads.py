import pytest
from django.core.files.uploadhandler import SkipFile
from django.test import RequestFactory

from fitness.uploads import (
    MULTIPART_OVERHEAD_BYTES,
    BodyTooLarge,
    FileTooLarge,
    PerFileLimitUploadHandler,
    limit_multipart_upload,
)


def test_per_file_limit_handler_raises_at_the_chunk_that_passes_the_limit():
    handler = PerFileLimitUploadHandler(max_bytes=100)
    handler.new_file("file", "a.jpg", "image/jpeg", None)

    assert handler.receive_data_chunk(b"x" * 60, 0) == b"x" * 60
    assert handler.receive_data_chunk(b"x" * 40, 60) == b"x" * 40
    with pytest.raises(FileTooLarge):
        handler.receive_data_chunk(b"x", 100)


def test_per_file_limit_handler_counts_each_file_on_its_own():
    handler = PerFileLimitUploadHandler(max_bytes=100)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        handler.new_file("files", name, "image/jpeg", None)
        assert handler.receive_data_chunk(b"x" * 90, 0) == b"x" * 90
        assert handler.received == 90


def test_per_file_limit_handler_skips_oversized_file_when_asked():
    handler = PerFileLimitUploadHandler(max_bytes=100, skip_oversized=True)
    for position, size in enumerate([10, 200, 10, 101]):
        handler.new_file("files", f"{position}.jpg", "image/jpeg", None)
        if size > 100:
            with pytest.raises(SkipFile):
                handler.receive_data_chunk(b"x" * size, 0)
        else:
            handler.receive_data_chunk(b"x" * size, 0)
    handler.new_file("other", "x.jpg", "image/jpeg", None)

    assert handler.skipped("files") == [1, 3]
    assert handler.skipped("other") == []


def test_limit_multipart_upload_raises_before_reading_when_declared_too_large():
    request = RequestFactory().post("/", data=b"", content_type="multipart/form-data; boundary=x")
    request.META["CONTENT_LENGTH"] = str(2 * 1000 + MULTIPART_OVERHEAD_BYTES + 1)

    with pytest.raises(BodyTooLarge):
        limit_multipart_upload(request, max_files=2, max_file_bytes=1000)


def test_limit_multipart_upload_installs_counter_first():
    request = RequestFactory().post("/", data=b"", content_type="multipart/form-data; boundary=x")

    limit_multipart_upload(request, max_files=1, max_file_bytes=1000)

    assert isinstance(request.upload_handlers[0], PerFileLimitUploadHandler)
    assert len(request.upload_handlers) == 3
