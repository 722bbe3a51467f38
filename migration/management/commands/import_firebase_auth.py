from pathlib import Path

import ijson
from django.core.management.base import BaseCommand, CommandError

from migration.importers import firebase_auth
from migration.progress import terminal_progress
from migration.report import summary_lines
from migration.runs import RunRecorder


class Command(BaseCommand):
    help = (
        "Import users from a `firebase auth:export --format=json` file. Exits 0 when the run "
        "completed, rejects included; non-zero only when it could not run."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The JSON file `firebase auth:export` wrote")
        parser.add_argument(
            "--hash-config",
            required=True,
            help="The project's Password Hash Parameters (JSON, or as the console shows them)",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count only; write nothing")
        parser.add_argument("--batch-size", type=int, default=firebase_auth.BATCH_SIZE)

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            config = firebase_auth.read_hash_config(Path(options["hash_config"]).read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CommandError(f"Cannot use the hash config: {exc}") from exc
        try:
            stream = open(options["file"], "rb")  # noqa: SIM115  (closed below)
        except OSError as exc:
            raise CommandError(f"Cannot read the export: {exc}") from exc
        recorder = RunRecorder.start(
            source=firebase_auth.SOURCE,
            options={"file": options["file"], "batch_size": options["batch_size"]},
            dry_run=options["dry_run"],
        )
        try:
            with stream:
                firebase_auth.import_users(
                    stream,
                    config=config,
                    recorder=recorder,
                    batch_size=options["batch_size"],
                    progress=terminal_progress(),
                )
        except (ijson.JSONError, OSError) as exc:
            recorder.fail(f"{type(exc).__name__}: {exc}")
            raise CommandError(f"The export could not be read to the end: {exc}") from exc
        except Exception as exc:
            recorder.fail(f"{type(exc).__name__}: {exc}")
            raise CommandError(f"The import could not run: {exc}") from exc
        run = recorder.finish()
        for line in summary_lines(run):
            self.stdout.write(line)
