import uuid
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone

from accounts import stats
from accounts.models import DataExport, DeletedAccount, User
from fitness.api.errors import NotFound
from storage import selectors as storage_selectors
from storage.signing import SignedUrl


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


def get_data_export(user: User, export_id: uuid.UUID) -> DataExport:
    """The caller's own export; 404 for anyone else's, as if it did not exist."""
    found = DataExport.objects.filter(owner=user, pk=export_id).select_related("file").first()
    if found is None:
        raise NotFound("No such export.")
    return found


def data_export_link(export: DataExport, *, request: HttpRequest | None = None) -> SignedUrl | None:
    """A fresh signed link to a ready export's zip; None before it is ready and once the
    zip has expired (DATA_EXPORT_TTL_DAYS)."""
    if export.status != DataExport.Status.READY or export.file is None:
        return None
    if not storage_selectors.is_live(export.file_id):
        return None
    return storage_selectors.grant(export.file, request=request)
