from django.core.management.base import BaseCommand, CommandError

from migration import services
from migration.report import summary_lines


class Command(BaseCommand):
    help = (
        "Bring the Firebase Storage objects that imported rows reference (image_url, "
        "progress_photos) through the upload pipeline and link them. A missing object is a "
        "reject; exits non-zero only when the bucket cannot be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bucket", required=True, help="e.g. my-app.appspot.com")
        parser.add_argument("--dry-run", action="store_true", help="Look up only; write nothing")

    def handle(self, *args, **options):
        try:
            run = services.import_firebase_storage(
                bucket=options["bucket"], dry_run=options["dry_run"]
            )
        except Exception as exc:
            raise CommandError(f"The import could not run: {exc}") from exc
        for line in summary_lines(run):
            self.stdout.write(line)
