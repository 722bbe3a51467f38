from django.apps import AppConfig


class AiAssistantConfig(AppConfig):
    name = "ai_assistant"
    verbose_name = "AI assistant"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ai_assistant import (
            openapi,  # noqa: F401 -- registers the schema extension
            receivers,  # noqa: F401 -- connects the signal receivers
        )
