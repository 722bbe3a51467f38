import uuid

from django.conf import settings
from django.db import models


class RunStatus(models.TextChoices):
    RUNNING = "running"
    COMPLETED = "completed"
    # The run could not go on (source unreachable, bad mapping); what it did so far stays.
    FAILED = "failed"
    # --dry-run: counted, nothing written.
    DRY_RUN = "dry_run"


class MigrationRun(models.Model):
    """One pass of one importer. `counts` holds per entity imported/updated/unchanged/
    rejected and the rejects' reasons; `report` the reconciliation migration_report wrote."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=32, db_index=True)
    options = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    counts = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    # The newest source `updated_at` this run saw; the next delta pass starts there.
    high_water_mark = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["source", "-started_at"], name="migrun_source_started")]

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


# The key of a user's `legacy` under which the Supabase import keeps its data, beside what
# the Firebase import keeps at the top level: neither importer overwrites the other's.
SUPABASE_LEGACY = "supabase"

# The id map legacy key where a group deleted here keeps when (migration.signals): the row
# is gone, and the report counts it as changed here rather than missing.
DELETED_HERE = "deleted_here_at"
# The id map legacy key where a group keeps whom the import brought in (members, and
# participants per challenge), so one who left here is not brought back by a later pass.
IMPORTED = "imported"


class IdMap(models.Model):
    """Old source id → new id. Deterministic (uuid5 or kept UUID), so a re-run finds the same
    row; `owner` lets a client ask only for its own ids."""

    source_table = models.CharField(max_length=64)
    old_id = models.CharField(max_length=255)
    new_id = models.UUIDField(db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    # The raw source row's hash: a re-run whose row hashes the same leaves the row alone.
    source_hash = models.CharField(max_length=64, blank=True)
    # The hash of the row's normalised values as imported; migration_report reads the row
    # back from our database, normalises it the same way and compares.
    content_hash = models.CharField(max_length=64, blank=True)
    # Source columns without a field of their own (and what a row holds that has no place
    # here, such as a group's members who were not imported), so nothing is dropped.
    legacy = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey(
        MigrationRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_table", "old_id"], name="idmap_table_old_id")
        ]
        indexes = [models.Index(fields=["owner", "source_table"], name="idmap_owner_table")]

    def __str__(self) -> str:
        return f"{self.source_table}:{self.old_id} → {self.new_id}"
