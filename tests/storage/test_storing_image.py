"""`storing_image`: a stored file and the writes that go with it, in one transaction."""

import pytest
from django.db import transaction

from storage import services
from storage.models import StoredFile
from tests.storage import factories as f


def encoded():
    return services.accept_image(f.upload(f.jpeg_bytes((320, 240))))


class Refused(Exception):
    pass


@pytest.mark.django_db
def test_a_failing_block_leaves_neither_the_row_nor_the_blob(user, local_backend):
    keys_before = local_backend.keys()

    with pytest.raises(Refused), services.storing_image(owner=user, encoded=encoded()):
        raise Refused

    assert not StoredFile.objects.exists()
    assert local_backend.keys() == keys_before


@pytest.mark.django_db(transaction=True)
def test_a_callback_failing_after_commit_leaves_the_stored_file_its_blob(user, local_backend):
    def broker_down():
        raise Refused

    with pytest.raises(Refused), services.storing_image(owner=user, encoded=encoded()) as stored:
        transaction.on_commit(broker_down)

    assert StoredFile.objects.get(pk=stored.pk).owner == user
    assert local_backend.read(stored.key)
