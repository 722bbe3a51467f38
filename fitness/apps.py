from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class FitnessConfig(AppConfig):
    # This module holds two configs; "fitness" in INSTALLED_APPS means this one.
    default = True
    name = "fitness"
    verbose_name = "Future Fitness"

    def ready(self) -> None:
        from fitness.observability import tasks  # noqa: F401 - connects Celery's signals


class FitnessAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with our site as `admin.site` (two-factor, see admin_security)."""

    default = False
    default_site = "fitness.admin_security.FitnessAdminSite"
