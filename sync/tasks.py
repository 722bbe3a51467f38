"""Celery beat's daily pruning of sync tombstones (see sync.services.prune_tombstones)."""

from celery import shared_task

from sync import services


@shared_task(name="sync.tasks.prune_tombstones")
def prune_tombstones() -> int:
    return services.prune_tombstones()
