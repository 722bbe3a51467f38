from django.db import models


class SyncTombstone(models.Model):
    """ "Row `row_id` of `table_name` is gone for `user_id`": written by database triggers
    (see `sync.database`) when a synced row is hard-deleted or a reader loses access to it,
    so the next pull of that user lists the id under `deleted`.

    `user_id` is a plain column, not a foreign key: the triggers also fire while a user's
    rows are being deleted with the user (a foreign key would then fail at commit); those
    tombstones are removed with the user (sync.receivers).
    """

    user_id = models.UUIDField()
    table_name = models.CharField(max_length=32)
    row_id = models.CharField(max_length=64)
    sync_version = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user_id", "sync_version"], name="sync_tombstone_user")]

    def __str__(self) -> str:
        return f"{self.table_name} {self.row_id} gone for {self.user_id}"


class SyncCounter(models.Model):
    """SQLite only: the one counter the triggers take change markers from (PostgreSQL
    uses transaction ids instead, see `sync.database`).

    Not managed, so that `flush` (and the teardown of transactional tests) leaves it alone:
    emptied, the triggers would stamp NULL and every synced write would fail; reset, the
    markers would go backwards and devices' `last_pulled_at` would hide newer rows. Its
    table and its one row come from the migrations.
    """

    value = models.BigIntegerField(default=0)

    class Meta:
        managed = False

    def __str__(self) -> str:
        return str(self.value)


class SyncHorizon(models.Model):
    """One row: the highest change marker among the tombstones pruned so far. A pull from
    a cut-off at or below it may have lost deletions, so it is answered in full (see
    `sync.selectors`)."""

    pruned_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.pruned_through)
