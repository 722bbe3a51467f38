"""Celery beat's nightly analytics run: yesterday's rollups, then the retention purge."""

from celery import shared_task

from analytics import services


@shared_task(name="analytics.tasks.purge_expired_events")
def purge_expired_events() -> int:
    return services.purge_expired_events()
