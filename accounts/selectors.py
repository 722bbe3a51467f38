from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts import stats
from accounts.models import User


def user_zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def get_user_stats(user: User, *, now: datetime | None = None) -> dict:
    zone = user_zone(user)
    today = (now or timezone.now()).astimezone(zone).date()
    return stats.collect(user, zone.key, today)
