from django.apps import AppConfig


class FoodConfig(AppConfig):
    name = "food"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from accounts.stats import register_stats_provider
        from food.receivers import touch_logs_of_deleted_file
        from food.selectors import food_stats_contribution
        from storage.models import StoredFile

        register_stats_provider(food_stats_contribution)
        pre_delete.connect(
            touch_logs_of_deleted_file, sender=StoredFile, dispatch_uid="food.touch_logs"
        )
