import uuid
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts import stats
from accounts.models import DeletedAccount, User


def user_zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def get_user_stats(user: User, *, now: datetime | None = None) -> dict:
    zone = user_zone(user)
    today = (now or timezone.now()).astimezone(zone).date()
    return stats.collect(user, zone.key, today)


def deleted_account_ids(ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` that name accounts their users deleted (never to be re-created)."""
    return set(DeletedAccount.objects.filter(pk__in=list(ids)).values_list("pk", flat=True))
