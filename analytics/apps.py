from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Product analytics"

    def ready(self) -> None:
        from analytics import receivers  # noqa: F401  (connects the account-deletion receiver)
