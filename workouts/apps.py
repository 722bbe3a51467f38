from django.apps import AppConfig


class WorkoutsConfig(AppConfig):
    name = "workouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from accounts.stats import register_stats_provider
        from storage.models import StoredFile
        from workouts.receivers import touch_workouts_of_deleted_file
        from workouts.selectors import user_stats_contribution

        register_stats_provider(user_stats_contribution)
        pre_delete.connect(
            touch_workouts_of_deleted_file,
            sender=StoredFile,
            dispatch_uid="workouts.touch_workouts",
        )
