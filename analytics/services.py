"""Every write to analytics: server events through `track()`, client batches, purges."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics.events import ServerEvent
from analytics.identity import actor_id, allows_analytics
from analytics.models import Event
from fitness.transactions import robust_on_commit

logger = logging.getLogger(__name__)


def track(user: Any, name: ServerEvent, properties: dict[str, Any] | None = None) -> None:
    """Records one server event for `user` once the caller's transaction commits (at once
    outside one), so a rolled-back write leaves no event. Nothing is stored for a user who
    turned `privacy_settings.analytics` off, and a failing insert never fails the caller."""
    name = ServerEvent(name)
    if user is None or not allows_analytics(user):
        return
    robust_on_commit(_store, actor_id(user.pk), str(name), dict(properties or {}), timezone.now())


def _store(actor: str, name: str, properties: dict[str, Any], occurred_at: datetime) -> None:
    Event.objects.create(
        actor=actor,
        name=name,
        origin=Event.Origin.SERVER,
        occurred_at=occurred_at,
        properties=properties,
    )


@dataclass(frozen=True)
class ClientBatchResult:
    accepted: int
    duplicates: int


@transaction.atomic
def record_client_events(*, user: Any, events: list[dict[str, Any]]) -> ClientBatchResult:
    """Stores the app's events (already validated); an id this user sent before, or twice
    in the batch, is a duplicate and stored once. An opted-out user's are dropped."""
    if not allows_analytics(user):
        return ClientBatchResult(accepted=0, duplicates=0)
    actor = actor_id(user.pk)
    fresh: dict[uuid.UUID, dict[str, Any]] = {}
    for event in events:
        fresh.setdefault(event["id"], event)
    seen = set(
        Event.objects.filter(actor=actor, client_event_id__in=list(fresh)).values_list(
            "client_event_id", flat=True
        )
    )
    rows = [
        Event(
            actor=actor,
            name=event["name"],
            origin=Event.Origin.CLIENT,
            occurred_at=event["timestamp"],
            client_event_id=event_id,
            properties=event.get("properties") or {},
        )
        for event_id, event in fresh.items()
        if event_id not in seen
    ]
    # A parallel resend of the same batch may insert first; the unique constraint keeps
    # one row and this one is skipped.
    Event.objects.bulk_create(rows, ignore_conflicts=True)
    return ClientBatchResult(accepted=len(rows), duplicates=len(events) - len(rows))


def delete_events_of(*, user_id: Any) -> int:
    deleted, _ = Event.objects.filter(actor=actor_id(user_id)).delete()
    return deleted


def purge_expired_events(*, now: datetime | None = None) -> int:
    """Deletes events older than ANALYTICS_RETENTION_DAYS (by when they happened)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ANALYTICS_RETENTION_DAYS)
    deleted, _ = Event.objects.filter(occurred_at__lt=cutoff).delete()
    if deleted:
        logger.info("Purged %s analytics events older than %s", deleted, cutoff.isoformat())
    return deleted
