"""Celery beat's nightly analytics run: yesterday's rollups, then the retention purge."""

from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from analytics import rollups, services


@shared_task(name="analytics.tasks.roll_up_day")
def roll_up_day(day: str) -> str:
    """Any past day (ISO date) again; the nightly run does yesterday."""
    rollups.roll_up_day(date.fromisoformat(day))
    return day


@shared_task(name="analytics.tasks.purge_expired_events")
def purge_expired_events() -> int:
    return services.purge_expired_events()


@shared_task(name="analytics.tasks.nightly")
def nightly() -> str:
    # Yesterday is complete once the UTC day has turned; the schedule runs after midnight.
    yesterday = timezone.now().date() - timedelta(days=1)
    rollups.roll_up_day(yesterday)
    services.purge_expired_events()
    return yesterday.isoformat()
