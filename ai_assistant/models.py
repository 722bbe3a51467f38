from django.conf import settings
from django.db import models


class AIUsage(models.Model):
    """One call to an AI provider (retries included): who, what for, what it cost, how it went.

    Rows outlive their user (anonymised) so totals per model and endpoint stay right.
    """

    class Outcome(models.TextChoices):
        OK = "ok", "ok"
        INVALID_KEY = "invalid_key", "invalid key"
        API_DISABLED = "api_disabled", "API disabled"
        RATE_LIMITED = "rate_limited", "rate limited"
        NETWORK_ERROR = "network_error", "network error"
        TIMEOUT = "timeout", "timeout"
        GENERATION_ERROR = "generation_error", "generation error"
        CONTENT_BLOCKED = "content_blocked", "content blocked"
        CANCELLED = "cancelled", "cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    endpoint = models.CharField(max_length=64)
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    prompt_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    thinking_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField()
    attempts = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "AI usage"
        verbose_name_plural = "AI usage"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="aiusage_user_created"),
            models.Index(fields=["endpoint", "created_at"], name="aiusage_endpoint_created"),
            models.Index(fields=["created_at"], name="aiusage_created"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.model} {self.outcome} ({self.total_tokens} tokens)"
