from django.apps import AppConfig


class MigrationConfig(AppConfig):
    """The move off Firebase and Supabase: importers, the id map, recorded runs and reports."""

    name = "migration"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from migration import signals  # noqa: F401  (connects the receivers)
