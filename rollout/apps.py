from django.apps import AppConfig


class RolloutConfig(AppConfig):
    name = "rollout"
    verbose_name = "Rollout: flags, switches, app versions"

    def ready(self) -> None:
        from rollout import signals  # noqa: F401
