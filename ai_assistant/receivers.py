"""Keeps what the coach caches about a user in step with their data."""

from typing import Any

from django.dispatch import receiver

from ai_assistant.personal_context import forget_activity
from fitness.offline import user_data_committed

# The synced tables build_snapshot reads (a workout's exercises and sets come with it).
_ACTIVITY_TABLES = {"food_logs", "workouts", "exercises", "set_logs", "workout_progress"}


@receiver(user_data_committed, dispatch_uid="coach_forget_activity")
def activity_changed(sender: Any, user_id: Any, tables: frozenset[str], **kwargs: Any) -> None:
    if tables & _ACTIVITY_TABLES:
        forget_activity([user_id])
