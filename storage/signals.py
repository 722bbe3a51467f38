"""Blobs follow their row, whichever way the row goes: the API, the admin, the expiry
sweep, or a user account being deleted (a cascade that calls no service)."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from storage.models import StoredFile


@receiver(post_delete, sender=StoredFile, dispatch_uid="storage.remove_blobs")
def remove_blobs_after_commit(sender, instance: StoredFile, using: str, **kwargs) -> None:
    from storage.tasks import remove_blobs

    # After commit, so a rolled-back delete keeps its blobs; robust, so a storage outage
    # logs rather than failing a delete that has already happened.
    # (A lambda: Django names a failing robust callback by __qualname__, which partials lack.)
    keys = instance.blob_keys
    transaction.on_commit(lambda: remove_blobs.delay(keys), using=using, robust=True)
