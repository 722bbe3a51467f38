"""Every write to food logs. Creates are idempotent on the client's id, so an offline
device can resend whatever it is not sure arrived."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import User
from analytics.events import FoodSource, ServerEvent
from analytics.services import track
from fitness.activity import activity_changed
from fitness.api.errors import NotFound
from fitness.inserts import insert_rows
from fitness.offline import check_client_ids, data_changed, sharing_errors
from food import selectors
from food.models import MAX_CALORIES, MAX_GRAMS, FoodLog, FoodLogShare, FoodLogTag
from storage import selectors as storage
from storage.models import StoredFile

Precondition = Callable[[FoodLog], None]


def estimated_nutrition(
    *, calories: float, protein: float, carbs: float, fat: float
) -> dict[str, Any]:
    """An estimate (an AI analysis) as the values a food log stores: whole kilocalories,
    grams to two places, each capped at what a log may hold."""
    return {
        "calories": min(round(calories), MAX_CALORIES),
        "protein": _grams(protein),
        "carbs": _grams(carbs),
        "fat": _grams(fat),
    }


def _grams(value: float) -> Decimal:
    return min(Decimal(str(round(value, 2))), MAX_GRAMS)


@dataclass(frozen=True)
class BatchResult:
    logs: list[FoodLog]
    created: int
    existing: int


class _Refused(Exception):
    """Some items have invalid fields; the callers turn this into their error shape."""

    def __init__(self, fields: dict) -> None:
        self.fields = fields
        super().__init__(fields)


def _link_images(owner: User, items: list[dict[str, Any]]) -> dict[int, dict]:
    """Swaps each item's `image_id` for the caller's file it names, in one query for the
    whole batch; an id that is not one of their live files is an error at its index."""
    wanted = {item["image_id"] for item in items if item.get("image_id") is not None}
    files = {stored.pk: stored for stored in storage.files_for(owner).filter(pk__in=wanted)}
    errors = {}
    for index, item in enumerate(items):
        if "image_id" not in item:
            continue
        image_id = item.pop("image_id")
        if image_id is not None and image_id not in files:
            errors[index] = {"image_id": [f"Unknown file id(s): {image_id}."]}
        else:
            _set_image(item, files.get(image_id))
    return errors


def _set_image(target: dict[str, Any], image: StoredFile | None) -> None:
    target["image"] = image
    if image is not None:
        # The link wins: a signed URL echoed back from a read is not kept as a plain URL.
        target["image_url"] = ""


def _build(owner: User, items: list[dict[str, Any]]) -> list[FoodLog]:
    """Unsaved logs, ready to render (`tag_list` and `share_list` as
    `selectors.with_relations` sets them), so nothing is read back after the insert."""
    logs = []
    for item in items:
        fields = dict(item)
        tag_names = fields.pop("tags", [])
        readers = fields.pop("shared_with", [])
        log = FoodLog(owner=owner, **fields)
        log.tag_list = [FoodLogTag(food_log=log, name=name) for name in tag_names]
        log.share_list = [FoodLogShare(food_log=log, user_id=reader) for reader in readers]
        logs.append(log)
    return logs


def _store(owner: User, items: list[dict[str, Any]], *, single: bool) -> tuple[list[FoodLog], int]:
    """Inserts the items whose id is new; returns every log, in the order of `items`.

    The logs go in first, `ON CONFLICT DO NOTHING`: an id already stored (a retry, or a
    parallel request with the same ids, which PostgreSQL waits for) is simply not inserted,
    with no savepoint to roll back to. Only then are the ids that did not go in looked at:
    the caller's live logs count as existing, anyone else's or a tombstone refuse the whole
    call, and the transaction (this service's atomic block) drops what was inserted.
    """
    errors = sharing_errors(owner, [item.get("shared_with", []) for item in items])
    for index, fields in _link_images(owner, items).items():
        errors[index] = {**errors.get(index, {}), **fields}
    if errors:
        raise _Refused(errors)
    for item in items:
        item.setdefault("id", uuid.uuid4())
    ids = [item["id"] for item in items]
    logs = _build(owner, items)
    created = insert_rows(logs, skip_taken=True)
    fresh = {log.pk for log in created}
    known = check_client_ids(FoodLog, owner=owner, ids=[None if i in fresh else i for i in ids])
    known.raise_refused(with_indexes=not single)
    if lost := set(ids) - fresh - known.existing:
        raise IntegrityError(f"Food logs neither inserted nor found: {sorted(map(str, lost))}.")
    tags = [tag for log in created for tag in log.tag_list]
    shares = [share for log in created for share in log.share_list]
    FoodLogTag.objects.bulk_create(tags)
    FoodLogShare.objects.bulk_create(shares)
    if created:
        readers = (share.user_id for share in shares)
        data_changed(tables=["food_logs"], user_ids=[owner.pk, *readers])
    stored = {log.pk: log for log in created}
    if known.existing:
        stored.update((log.pk, log) for log in selectors.food_logs_in_order(known.existing))
    return [stored[log_id] for log_id in ids], len(created)


def log_food(
    *,
    owner: User,
    data: dict[str, Any],
    source: FoodSource = FoodSource.MANUAL,
    savepoint: bool = True,
) -> tuple[FoodLog, bool]:
    """Stores one log; with a known id of the owner's, returns the stored one unchanged.
    `source` says how it came to be, for analytics (`food_logged`).

    `data` names its photo by `image_id` (checked to be one of the owner's live files),
    or, from a caller that holds that file already, as `image`. `savepoint=False` is for
    a caller inside its own transaction that rolls back as a whole on any error: the log
    then needs no savepoint of its own.
    """
    with transaction.atomic(savepoint=savepoint):
        try:
            logs, created = _store(owner, [dict(data)], single=True)
        except _Refused as refused:
            raise ValidationError(refused.fields[0]) from None
        if created:
            _changed(owner, [logs[0].timestamp])
            track(owner, ServerEvent.FOOD_LOGGED, {"source": source, "count": 1})
    return logs[0], bool(created)


@transaction.atomic
def log_foods(
    *, owner: User, items: list[dict[str, Any]], source: FoodSource = FoodSource.BATCH
) -> BatchResult:
    """All or nothing: one refused item stores none of them."""
    try:
        logs, created = _store(owner, [dict(item) for item in items], single=False)
    except _Refused as refused:
        raise ValidationError({"items": refused.fields}) from None
    if created:
        _changed(owner, [log.timestamp for log in logs])
        track(owner, ServerEvent.FOOD_LOGGED, {"source": source, "count": created})
    return BatchResult(logs=logs, created=created, existing=len(logs) - created)


def _changed(owner: User, moments: list) -> None:
    activity_changed(user_id=owner.pk, kind="food_log", moments=moments)


def _locked_own_log(owner: User, log_id: UUID, *, with_relations: bool = False) -> FoodLog:
    logs = FoodLog.objects.select_for_update(of=("self",)).filter(owner=owner, pk=log_id)
    log = (selectors.with_relations(logs) if with_relations else logs).first()
    if log is None:
        raise NotFound()
    return log


@transaction.atomic
def update_food_log(
    *, owner: User, log_id: UUID, changes: dict[str, Any], precondition: Precondition
) -> FoodLog:
    """Applies `changes` (all fields for PUT, some for PATCH) to an owned, live log.

    `precondition` (the If-Match check) sees the locked row, so of two offline edits based
    on the same version only the first can pass it. The log is locked with its image, tags
    and readers, kept up to date as they change, and returned as it is rendered, not read
    again; shares cannot change meanwhile, since every edit of them takes this lock first.
    """
    log = _locked_own_log(owner, log_id, with_relations=True)
    if log.is_deleted:
        raise NotFound()
    precondition(log)
    before = log.timestamp
    changes = dict(changes)
    changes.pop("id", None)
    tag_names = changes.pop("tags", None)
    readers = changes.pop("shared_with", None)
    if readers is not None:
        errors = sharing_errors(owner, [readers])
        if errors:
            raise ValidationError(errors[0])
    if "image_id" in changes:
        image_id = changes.pop("image_id")
        image = None
        if image_id is not None:
            image = storage.owned_files(owner, [image_id], field="image_id")[0]
        _set_image(changes, image)
    elif log.image_id is not None:
        changes.pop("image_url", None)
    for field, value in changes.items():
        setattr(log, field, value)
    # An UPDATE of the changed columns rather than save(): save's post_save receiver would
    # read the readers again (sync.receivers), and they are known here.
    log.updated_at = timezone.now()
    FoodLog.objects.filter(pk=log.pk).update(**changes, updated_at=log.updated_at)
    data_changed(tables=["food_logs"], user_ids=[owner.pk, *(s.user_id for s in log.share_list)])
    if tag_names is not None:
        log.tags.all().delete()
        log.tag_list = FoodLogTag.objects.bulk_create(
            FoodLogTag(food_log=log, name=name) for name in tag_names
        )
    if readers is not None:
        _replace_readers(log, readers)
    _changed(owner, [before, log.timestamp])
    return log


def _replace_readers(log: FoodLog, readers: list[UUID]) -> None:
    current = [share.user_id for share in log.share_list]
    if gone := [reader for reader in current if reader not in readers]:
        # Through the ORM's delete, whose post_delete receiver tells each one it lost the log.
        log.shares.filter(user_id__in=gone).delete()
    added = [reader for reader in dict.fromkeys(readers) if reader not in current]
    kept = [share for share in log.share_list if share.user_id in readers]
    # In the order a read gives them (by id): those kept, then the new ones.
    log.share_list = kept + FoodLogShare.objects.bulk_create(
        FoodLogShare(food_log=log, user_id=reader) for reader in added
    )
    data_changed(tables=["food_logs"], user_ids=added)


@transaction.atomic
def delete_food_log(*, owner: User, log_id: UUID, precondition: Precondition) -> None:
    """Leaves a tombstone for sync. Deleting an already deleted log again is a no-op, so a
    device may repeat the request; anything not owned is 404."""
    log = _locked_own_log(owner, log_id)
    if log.is_deleted:
        return
    precondition(log)
    log.deleted_at = timezone.now()
    log.save(update_fields=["deleted_at", "updated_at"])
    _changed(owner, [log.timestamp])


@transaction.atomic
def delete_food_logs(*, owner: User, ids: list[UUID]) -> int:
    """Tombstones the caller's live logs among `ids`; other ids are skipped silently."""
    now = timezone.now()
    doomed = FoodLog.objects.for_owner(owner).filter(pk__in=ids)
    moments = list(doomed.values_list("timestamp", flat=True))
    readers = FoodLogShare.objects.filter(food_log__in=doomed).values_list("user_id", flat=True)
    data_changed(tables=["food_logs"], user_ids=[owner.pk, *readers])
    deleted = doomed.update(deleted_at=now, updated_at=now)
    if deleted:
        _changed(owner, moments)
    return deleted
