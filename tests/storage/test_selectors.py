import uuid

import pytest
from rest_framework.exceptions import ValidationError

from storage import selectors, signing
from tests.storage import factories as f


def test_owned_files_returns_callers_files_in_given_order(user):
    first, second = f.stored_file(user), f.stored_file(user)

    found = selectors.owned_files(user, [str(second.id), first.id, second.id])

    assert found == [second, first]


def test_owned_files_raises_400_naming_ids_that_are_not_the_callers(user, other_user):
    mine, theirs = f.stored_file(user), f.stored_file(other_user)
    missing = uuid.uuid4()

    with pytest.raises(ValidationError) as caught:
        selectors.owned_files(user, [mine.id, theirs.id, missing, "nope"], field="image_id")

    message = str(caught.value.detail["image_id"][0])
    assert str(theirs.id) in message and str(missing) in message and "nope" in message
    assert str(mine.id) not in message


def test_signed_urls_signs_each_file_once_while_cached(
    user, monkeypatch, django_assert_num_queries
):
    files = [f.stored_file(user) for _ in range(3)]
    calls = []
    real_sign = signing.sign
    monkeypatch.setattr(signing, "sign", lambda **kw: calls.append(kw) or real_sign(**kw))

    with django_assert_num_queries(0):
        first = selectors.signed_urls(files)
        again = selectors.signed_urls(files)

    assert len(calls) == 3
    assert first == again and set(first) == {stored.id for stored in files}


def test_signed_urls_differ_per_variant(user):
    stored = f.stored_file(user)

    assert selectors.signed_url(stored) != selectors.signed_url(stored, variant="thumbnail")


def test_read_bytes_returns_the_cleaned_original(user, local_backend):
    stored = f.stored_file(user, f.jpeg_with_private_metadata())

    data = selectors.read_bytes(stored)

    assert data == local_backend.read(stored.key)
    assert b"SecretCam" not in data
