"""Abstract bases for the user-owned, offline-synced objects (food logs, workouts...)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class AliveQuerySet(models.QuerySet):
    def alive(self) -> "AliveQuerySet":
        return self.filter(deleted_at__isnull=True)

    def for_owner(self, user) -> "AliveQuerySet":
        return self.filter(owner=user, deleted_at__isnull=True)


class SyncVersioned(models.Model):
    """A row the sync endpoint serves: `sync_version` is its change marker.

    Database triggers (installed by the `sync` app, see `sync.database`) set it on every
    insert and update, whoever writes (services, the admin, raw SQL, importers); Python
    never writes it. What it holds and why that is safe under concurrency is explained there.
    """

    sync_version = models.BigIntegerField(default=0, editable=False)

    class Meta:
        abstract = True


class OwnedSyncedModel(SyncVersioned):
    """UUID id a client may choose, an owner, and a tombstone instead of a hard delete.

    Deleted rows stay (with `deleted_at`) so a device that syncs later learns of the
    deletion; every read goes through `alive()` / `for_owner()` and never sees them.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = AliveQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class LiveRowCount(models.Model):
    """How many live (not deleted) food logs and workouts a user has: the `total` of their
    unfiltered lists, read instead of counting the whole history on every page.

    Kept by database triggers (fitness.live_counts) in the writing transaction, whoever
    writes (services, sync pushes, the admin, importers, a user's cascade delete), so no
    Python write path needs to know. No row means zero.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    food_logs = models.IntegerField(default=0)
    workouts = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.food_logs} food logs, {self.workouts} workouts"
