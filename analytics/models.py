"""Events (pseudonymous, one row each) and the nightly rollups the staff dashboard reads.

A day is a UTC calendar day everywhere here: events are stored with their UTC instant and
the rollups group them by the UTC date, whatever zone the user or the client was in.
"""

from django.db import models


class Event(models.Model):
    class Origin(models.TextChoices):
        SERVER = "server"
        CLIENT = "client"

    # A keyed hash of the user id (analytics.identity), never the e-mail or the id itself:
    # the table can be read for product questions without naming anyone.
    actor = models.CharField(max_length=64)
    name = models.CharField(max_length=64)
    origin = models.CharField(max_length=8, choices=Origin.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    # The client's own id, so a batch resent after a lost answer is stored once.
    client_event_id = models.UUIDField(null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["actor", "client_event_id"],
                condition=models.Q(client_event_id__isnull=False),
                name="analytics_event_client_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(origin__in=["server", "client"]),
                name="analytics_event_origin_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["occurred_at"], name="analytics_event_occurred"),
            models.Index(fields=["name", "occurred_at"], name="analytics_event_name_occurred"),
            models.Index(fields=["actor", "occurred_at"], name="analytics_event_actor_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class DailyActivity(models.Model):
    """Active users on `day` (DAU), in the 7 days ending with it (WAU), in the 30 (MAU),
    and the users who signed up on it."""

    day = models.DateField(primary_key=True)
    dau = models.PositiveIntegerField()
    wau = models.PositiveIntegerField()
    mau = models.PositiveIntegerField()
    new_users = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day"]
        verbose_name_plural = "daily activity"

    def __str__(self) -> str:
        return f"{self.day}: {self.dau} active"


class RetentionCohort(models.Model):
    """Users who signed up on `cohort_day` and how many were active again exactly 1, 7 and
    30 days later; null while that day has not been rolled up yet."""

    cohort_day = models.DateField(primary_key=True)
    size = models.PositiveIntegerField()
    d1 = models.PositiveIntegerField(null=True)
    d7 = models.PositiveIntegerField(null=True)
    d30 = models.PositiveIntegerField(null=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cohort_day"]

    def __str__(self) -> str:
        return f"cohort {self.cohort_day} ({self.size})"


class FeatureAdoption(models.Model):
    """Of the users active in the `window_days` ending with `day`, how many used `feature`."""

    day = models.DateField()
    window_days = models.PositiveSmallIntegerField()
    feature = models.CharField(max_length=32)
    users = models.PositiveIntegerField()
    active_users = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "window_days", "feature"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "window_days", "feature"], name="analytics_adoption_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.feature} ({self.window_days} days)"

    @property
    def share(self) -> float:
        return self.users / self.active_users if self.active_users else 0.0


class AIUsageDaily(models.Model):
    """Calls to the AI provider on `day` per model, their tokens and estimated cost (USD,
    from AI_PRICE_INPUT_PER_MTOK / AI_PRICE_OUTPUT_PER_MTOK at the time of the rollup)."""

    day = models.DateField()
    model = models.CharField(max_length=100)
    calls = models.PositiveIntegerField()
    failed_calls = models.PositiveIntegerField()
    input_tokens = models.PositiveBigIntegerField()
    output_tokens = models.PositiveBigIntegerField()
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "model"]
        verbose_name = "AI usage per day"
        verbose_name_plural = "AI usage per day"
        constraints = [
            models.UniqueConstraint(fields=["day", "model"], name="analytics_ai_daily_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model}: {self.calls} calls"


class RecognitionDaily(models.Model):
    """Photo recognition jobs that finished on `day`, and how many succeeded."""

    day = models.DateField(primary_key=True)
    finished = models.PositiveIntegerField()
    succeeded = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day"]
        verbose_name_plural = "recognition per day"

    def __str__(self) -> str:
        return f"{self.day}: {self.succeeded}/{self.finished}"

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.finished if self.finished else None


class RouteDaily(models.Model):
    """Requests per route template and method on `day`: how many, how many answered 5xx,
    and the 95th percentile latency (from a fixed-bucket histogram, analytics.requests)."""

    day = models.DateField()
    method = models.CharField(max_length=10)
    route = models.CharField(max_length=255)
    requests = models.PositiveIntegerField()
    errors = models.PositiveIntegerField()
    p95_ms = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "route", "method"]
        verbose_name_plural = "routes per day"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "method", "route"], name="analytics_route_daily_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.method} {self.route}"

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0
