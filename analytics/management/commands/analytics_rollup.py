from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics import rollups


class Command(BaseCommand):
    help = "Rolls up analytics for a UTC day (default yesterday), or the N days ending with it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--day", help="YYYY-MM-DD (UTC); default yesterday")
        parser.add_argument("--days", type=int, default=1, help="how many days ending with --day")

    def handle(self, *args, day: str | None, days: int, **options) -> None:
        try:
            last = date.fromisoformat(day) if day else timezone.now().date() - timedelta(days=1)
        except ValueError as exc:
            raise CommandError("--day must be YYYY-MM-DD") from exc
        if not 1 <= days <= 400:
            raise CommandError("--days must be between 1 and 400")
        for offset in range(days - 1, -1, -1):
            current = last - timedelta(days=offset)
            rollups.roll_up_day(current)
            self.stdout.write(f"rolled up {current.isoformat()}")
