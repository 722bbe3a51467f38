"""Running an import as a recorded run: start, do the work, finish (or fail), outside any
transaction so the run's record survives a dry run's rollback."""

from datetime import datetime
from typing import Any

from django.db import transaction

from migration.importers import firebase_storage
from migration.importers.supabase import SOURCE, SupabaseImporter, connect
from migration.mapping import load_mapping
from migration.models import MigrationRun
from migration.progress import terminal_progress
from migration.runs import RunRecorder, latest_high_water_mark


class _DryRunRollback(Exception):
    pass


def import_supabase(
    *,
    database_url: str,
    mapping_path: str | None = None,
    since: datetime | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
) -> MigrationRun:
    """Raises (after recording the run as failed) only when the import could not run."""
    mapping = load_mapping(mapping_path)
    if since is None:
        since = latest_high_water_mark(SOURCE)
    options: dict[str, Any] = {
        "mapping": mapping_path,
        "since": since.isoformat() if since else None,
    }
    recorder = RunRecorder.start(source=SOURCE, options=options, dry_run=dry_run)
    try:
        with connect(database_url) as conn:
            kwargs = {"batch_size": batch_size} if batch_size else {}
            importer = SupabaseImporter(
                conn=conn,
                mapping=mapping,
                recorder=recorder,
                since=since,
                progress=terminal_progress(),
                **kwargs,
            )
            if dry_run:
                try:
                    with transaction.atomic():
                        mark = importer.run()
                        raise _DryRunRollback
                except _DryRunRollback:
                    pass
            else:
                mark = importer.run()
    except Exception as exc:
        recorder.fail(f"{type(exc).__name__}: {exc}")
        raise
    return recorder.finish(high_water_mark=mark)


def import_firebase_storage(*, bucket: str, dry_run: bool = False) -> MigrationRun:
    """A dry run only looks the objects up: blobs written to storage could not be rolled
    back with the database."""
    recorder = RunRecorder.start(
        source=firebase_storage.SOURCE, options={"bucket": bucket}, dry_run=dry_run
    )
    try:
        firebase_storage.FirebaseStorageImporter(
            bucket_name=bucket, recorder=recorder, progress=terminal_progress()
        ).run()
    except Exception as exc:
        recorder.fail(f"{type(exc).__name__}: {exc}")
        raise
    return recorder.finish()
