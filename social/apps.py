from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.stats import register_stats_provider
        from fitness.activity import register_activity_hook
        from social.selectors import social_stats_contribution
        from social.services import activity_changed

        register_stats_provider(social_stats_contribution)
        register_activity_hook(activity_changed)
