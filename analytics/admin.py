from django.contrib import admin

from analytics.models import (
    AIUsageDaily,
    DailyActivity,
    Event,
    FeatureAdoption,
    RecognitionDaily,
    RetentionCohort,
    RouteDaily,
)
from fitness.admin import ReadOnlyModelAdmin


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    list_display = ("occurred_at", "name", "origin", "actor")
    list_filter = ("origin", "name")
    date_hierarchy = "occurred_at"
    # Exact pseudonym only: a staff member can follow one actor without learning who it is.
    search_fields = ("=actor",)
    show_full_result_count = False


@admin.register(DailyActivity)
class DailyActivityAdmin(ReadOnlyModelAdmin):
    list_display = ("day", "dau", "wau", "mau", "new_users", "computed_at")


@admin.register(RetentionCohort)
class RetentionCohortAdmin(ReadOnlyModelAdmin):
    list_display = ("cohort_day", "size", "d1", "d7", "d30", "computed_at")


@admin.register(FeatureAdoption)
class FeatureAdoptionAdmin(ReadOnlyModelAdmin):
    list_display = ("day", "window_days", "feature", "users", "active_users")
    list_filter = ("window_days", "feature")


@admin.register(AIUsageDaily)
class AIUsageDailyAdmin(ReadOnlyModelAdmin):
    list_display = (
        "day",
        "model",
        "calls",
        "failed_calls",
        "input_tokens",
        "output_tokens",
        "cost_usd",
    )


@admin.register(RecognitionDaily)
class RecognitionDailyAdmin(ReadOnlyModelAdmin):
    list_display = ("day", "finished", "succeeded")


@admin.register(RouteDaily)
class RouteDailyAdmin(ReadOnlyModelAdmin):
    list_display = ("day", "method", "route", "requests", "errors", "p95_ms")
    list_filter = ("method",)
    search_fields = ("route",)
