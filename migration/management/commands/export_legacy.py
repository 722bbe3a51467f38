from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from migration.export import Exporter
from migration.mapping import MappingError
from migration.normal import aware


class Command(BaseCommand):
    help = (
        "Write everything created or changed since --since in the source shapes (users.json "
        "for `firebase auth:import`, without password hashes; <table>.jsonl per entity in the "
        "mapping's source columns), for a rollback that loses nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="The cut-over, ISO date-time")
        parser.add_argument("--out", required=True, help="Directory to write into")
        parser.add_argument("--mapping", help="YAML or JSON mapping file (default: the plan's)")

    def handle(self, *args, **options):
        since = parse_datetime(options["since"])
        if since is None:
            raise CommandError(f"--since {options['since']!r} is not an ISO date-time.")
        try:
            counts = Exporter(
                since=aware(since), out=Path(options["out"]), mapping_path=options["mapping"]
            ).run()
        except (MappingError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count} rows")
