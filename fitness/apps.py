from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class FitnessConfig(AppConfig):
    # This module holds two configs; "fitness" in INSTALLED_APPS means this one.
    default = True
    name = "fitness"
    verbose_name = "Future Fitness"

    def ready(self) -> None:
        from django.core.signals import got_request_exception

        from fitness.middleware import remember_uncaught_exception
        from fitness.observability import tasks  # noqa: F401 - connects Celery's signals

        got_request_exception.connect(remember_uncaught_exception, dispatch_uid="fitness.uncaught")


class FitnessAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with our site as `admin.site` (two-factor, see admin_security)."""

    default = False
    default_site = "fitness.admin_security.FitnessAdminSite"
