from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from migration import services
from migration.mapping import MappingError
from migration.normal import aware
from migration.report import summary_lines


class Command(BaseCommand):
    help = (
        "Import auth.users and the app's tables from a Supabase Postgres (read-only). Exits 0 "
        "when the run completed, rejects included; non-zero only when it could not run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database-url", required=True)
        parser.add_argument("--mapping", help="YAML or JSON mapping file (default: the plan's)")
        parser.add_argument(
            "--since",
            help="ISO time; only rows changed since (default: the last run's high-water mark)",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count only; write nothing")
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, **options):
        since = None
        if options["since"]:
            since = parse_datetime(options["since"])
            if since is None:
                raise CommandError(f"--since {options['since']!r} is not an ISO date-time.")
            since = aware(since)
        try:
            run = services.import_supabase(
                database_url=options["database_url"],
                mapping_path=options["mapping"],
                since=since,
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
            )
        except (MappingError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            raise CommandError(f"The import could not run: {exc}") from exc
        for line in summary_lines(run):
            self.stdout.write(line)
