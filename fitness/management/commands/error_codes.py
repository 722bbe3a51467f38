from django.core.management.base import BaseCommand

from fitness.error_codes import markdown_table


class Command(BaseCommand):
    help = "Prints the table of every error code (the README's copy is checked against it)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(markdown_table(), ending="")
