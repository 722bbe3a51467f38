"""Recording one importer run: what it saw, what it did to each entity, and what it refused.

Both importers (Firebase Auth, Supabase, Firebase Storage) count through a `RunRecorder`, so
every run has the same `counts` shape, which `migration_report` reads:

    {entity: {"source_rows", "imported", "updated", "unchanged", "rejected",
              "reasons": {reason: n}, "rejects": [{"id", "reason"}, ...]}}
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from migration.models import MigrationRun, RunStatus

# Each reject is kept with its id up to this many per entity (the reasons are counted in
# full); a source with a million bad rows must not make the run's JSON unbounded.
MAX_REJECTS_KEPT = 1000

OUTCOMES = ("imported", "updated", "unchanged")


def _empty_entity() -> dict[str, Any]:
    return {
        "source_rows": 0,
        "imported": 0,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "reasons": {},
        "rejects": [],
    }


class RunRecorder:
    """Start a run with `RunRecorder.start(...)`, count with `seen`/`record`/`reject`, end with
    `finish` or `fail`. The run row is written outside any import transaction (on its own
    connection-level autocommit), so a dry run's rollback or a failed batch keeps the record."""

    def __init__(self, run: MigrationRun) -> None:
        self.run = run
        self.counts: dict[str, dict[str, Any]] = {}

    @classmethod
    def start(
        cls, *, source: str, options: Mapping[str, Any] | None = None, dry_run: bool = False
    ) -> "RunRecorder":
        run = MigrationRun.objects.create(
            source=source,
            options={**(options or {}), "dry_run": dry_run},
            status=RunStatus.RUNNING,
        )
        return cls(run)

    @property
    def dry_run(self) -> bool:
        return bool(self.run.options.get("dry_run"))

    def entity(self, name: str) -> dict[str, Any]:
        return self.counts.setdefault(name, _empty_entity())

    def seen(self, entity: str, n: int = 1) -> None:
        self.entity(entity)["source_rows"] += n

    def record(self, entity: str, outcome: str, n: int = 1) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"Unknown outcome {outcome!r}; one of {OUTCOMES}.")
        self.entity(entity)[outcome] += n

    def reject(self, entity: str, *, old_id: object, reason: str) -> None:
        counts = self.entity(entity)
        counts["rejected"] += 1
        counts["reasons"][reason] = counts["reasons"].get(reason, 0) + 1
        if len(counts["rejects"]) < MAX_REJECTS_KEPT:
            counts["rejects"].append(
                {"id": None if old_id is None else str(old_id), "reason": reason}
            )

    def changed(self) -> int:
        """Rows this run created or changed, over every entity."""
        return sum(c["imported"] + c["updated"] for c in self.counts.values())

    def save_progress(self) -> None:
        MigrationRun.objects.filter(pk=self.run.pk).update(counts=self.counts)

    def finish(self, *, high_water_mark: datetime | None = None) -> MigrationRun:
        self._close(
            status=RunStatus.DRY_RUN if self.dry_run else RunStatus.COMPLETED,
            high_water_mark=high_water_mark,
        )
        return self.run

    def fail(self, error: str) -> MigrationRun:
        self._close(status=RunStatus.FAILED, error=error[:10_000])
        return self.run

    def _close(self, **fields: Any) -> None:
        if transaction.get_connection().in_atomic_block:
            raise RuntimeError("Finish the run outside the import transaction, or it rolls back.")
        run = self.run
        run.counts = self.counts
        run.finished_at = timezone.now()
        for name, value in fields.items():
            setattr(run, name, value)
        run.save()


def latest_high_water_mark(source: str) -> datetime | None:
    """Where the next delta pass of `source` starts: the last completed (not dry) run's mark."""
    run = (
        MigrationRun.objects.filter(source=source, status=RunStatus.COMPLETED)
        .exclude(high_water_mark=None)
        .order_by("-started_at")
        .first()
    )
    return run.high_water_mark if run else None
