from django.core.management.base import BaseCommand, CommandError

from migration.models import MigrationRun, RunStatus
from migration.report import build_report, report_lines


class Command(BaseCommand):
    help = (
        "Reconcile a run (default: the latest run of each source): rows accounted for and "
        "content hashes compared. Exits non-zero when anything is unaccounted or differs."
    )

    def add_arguments(self, parser):
        parser.add_argument("run", nargs="?", help="A run id (default: latest per source)")

    def handle(self, *args, **options):
        if options["run"]:
            try:
                runs = [MigrationRun.objects.get(pk=options["run"])]
            except (MigrationRun.DoesNotExist, ValueError, Exception) as exc:
                raise CommandError(f"No run {options['run']!r}.") from exc
        else:
            sources = MigrationRun.objects.exclude(status=RunStatus.DRY_RUN).values_list(
                "source", flat=True
            )
            runs = [
                MigrationRun.objects.filter(source=source)
                .exclude(status=RunStatus.DRY_RUN)
                .order_by("-started_at")
                .first()
                for source in sorted(set(sources))
            ]
            if not runs:
                raise CommandError("No runs yet.")
        ok = True
        for run in runs:
            report = build_report(run)
            ok = ok and report["ok"]
            for line in report_lines(report):
                self.stdout.write(line)
        if not ok:
            raise CommandError("Reconciliation failed: see the report above.")
