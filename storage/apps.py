from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "storage"
    verbose_name = "Stored files"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from storage import signals  # noqa: F401  (connects the blob clean-up receiver)
