from django.apps import AppConfig


class WorkoutsConfig(AppConfig):
    name = "workouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.stats import register_stats_provider
        from workouts.selectors import user_stats_contribution

        register_stats_provider(user_stats_contribution)
