from django.apps import AppConfig


class FoodConfig(AppConfig):
    name = "food"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.stats import register_stats_provider
        from food.selectors import food_stats_contribution

        register_stats_provider(food_stats_contribution)
