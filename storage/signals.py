"""Blobs follow their row, whichever way the row goes: the API, the admin, the expiry
sweep, or a user account being deleted (a cascade that calls no service)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from fitness.transactions import robust_on_commit
from storage.models import StoredFile


@receiver(post_delete, sender=StoredFile, dispatch_uid="storage.remove_blobs")
def remove_blobs_after_commit(sender, instance: StoredFile, using: str, **kwargs) -> None:
    from storage.tasks import remove_blobs

    # After commit, so a rolled-back delete keeps its blobs; robust, so a storage outage
    # logs rather than failing a delete that has already happened.
    robust_on_commit(remove_blobs.delay, instance.blob_keys, using=using)
