"""Every write to stored files: upload, variants, delete, expiry sweep.

Blob transfers never run inside a database transaction: an upload writes its blob first
and records the row in a short transaction (removing the blob if that fails); deletions
remove the row and leave the blobs to `storage.signals`, after commit.
"""

import hashlib
import re
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts.models import User
from fitness.api.errors import ApiError
from fitness.error_codes import ErrorCode
from fitness.offline import IdDeleted, check_client_ids, data_changed
from fitness.transactions import robust_on_commit
from fitness.uploads import check_upload_size
from storage import images, selectors
from storage.models import AccessLevel, Purpose, StoredFile, Variant

# Long side, in pixels, of each variant the task makes.
VARIANT_SIDES: dict[str, int] = {Variant.THUMBNAIL: 256, Variant.DISPLAY: 1280}
_KEY_PREFIX = "uploads"
_EXPORT_PREFIX = "exports"
ZIP_CONTENT_TYPE = "application/zip"


class BatchTooLarge(ApiError):
    code = ErrorCode.BATCH_TOO_LARGE
    message = "The images of this batch have too many pixels in all; send fewer at a time."


class QuotaExceeded(ApiError):
    code = ErrorCode.QUOTA_EXCEEDED
    message = "Your storage is full; delete some files first."


@dataclass(frozen=True)
class UploadFailure:
    index: int
    error: ApiError


def upload_file(
    *,
    owner: User,
    upload: UploadedFile,
    tags: Sequence[str] = (),
    purpose: str = Purpose.OTHER,
    access_level: str = AccessLevel.PRIVATE,
    expiry: datetime | None = None,
    file_id: uuid.UUID | None = None,
) -> StoredFile:
    """Checks, cleans and stores one uploaded image; variants follow in a task."""
    return store_image(
        owner=owner,
        encoded=accept_image(upload),
        original_filename=upload.name or "",
        tags=tags,
        purpose=purpose,
        access_level=access_level,
        expiry=expiry,
        file_id=file_id,
    )


def upload_file_once(
    *, owner: User, upload: UploadedFile, file_id: uuid.UUID | None, **options
) -> tuple[StoredFile, bool]:
    """`upload_file` under the id an offline client chose, idempotent like every offline
    create (fitness.offline): the caller's stored id returns that file untouched (its bytes
    are not read again), and whether it is new."""
    if file_id is not None and (existing := _replay(owner, file_id)) is not None:
        return existing, False
    try:
        return upload_file(owner=owner, upload=upload, file_id=file_id, **options), True
    except IntegrityError:
        # A concurrent upload stored the same id first.
        if file_id is None or (existing := _replay(owner, file_id)) is None:
            raise
        return existing, False


def _replay(owner: User, file_id: uuid.UUID) -> StoredFile | None:
    known = check_client_ids(StoredFile, owner=owner, ids=[file_id], sync_table="stored_files")
    known.raise_refused()
    if not known.existing:
        return None
    found = selectors.files_for(owner).filter(pk=file_id).first()
    if found is None:
        # Past its expiry it is gone for clients, as if the sweep had deleted it already.
        raise IdDeleted()
    return found


def accept_image(
    upload: UploadedFile, *, max_side: int | None = None, output_format: str | None = None
) -> images.EncodedImage:
    """What storage accepts of an upload: within the size limit, an image by its bytes
    (type, pixel cap, bombs), upright and re-encoded without metadata; optionally shrunk
    to `max_side` and re-encoded as `output_format` (AI recognition's model copy)."""
    check_upload_size(upload)
    return images.normalise_image(
        upload,
        max_pixels=settings.STORAGE_MAX_PIXELS,
        max_side=max_side,
        output_format=output_format,
    )


def store_image(*, owner: User, encoded: images.EncodedImage, **details: Any) -> StoredFile:
    """Stores an image that `accept_image` has already checked and encoded (an upload,
    or e.g. the downscaled copy of a photo that AI recognition made), within the quota.
    `details`: those `storing_image` takes (`original_filename` is the client's,
    sanitised there)."""
    # Checked before the blob is written too, so a full account costs no blob transfer.
    _check_quota(owner, encoded.size)
    with storing_image(owner=owner, encoded=encoded, **details) as stored:
        return stored


@contextmanager
def storing_image(
    *,
    owner: User,
    encoded: images.EncodedImage,
    original_filename: str = "",
    tags: Sequence[str] = (),
    purpose: str = Purpose.OTHER,
    access_level: str = AccessLevel.PRIVATE,
    expiry: datetime | None = None,
    file_id: uuid.UUID | None = None,
) -> Iterator[StoredFile]:
    """`store_image` for a file that other writes go with: the blob is written first,
    then the row is recorded in a transaction that stays open for the caller's block, so
    the file and whatever refers to it commit or roll back together; if anything in the
    block fails, the blob is removed again.

    The quota is checked once, under the owner's row lock: an upload refused for it has
    cost a blob written and removed, where `store_image` checks before writing as well.
    """
    original_filename = sanitize_filename(original_filename)
    key = default_storage.save(
        f"{_KEY_PREFIX}/{secrets.token_hex(16)}.{encoded.extension}", ContentFile(encoded.data)
    )
    committed: list[bool] = []
    try:
        with transaction.atomic():
            # First in line at commit: a callback of the caller's that fails after it (one
            # not robust, such as a broker that is down) must not take the blob of a file
            # that is stored with it.
            transaction.on_commit(lambda: committed.append(True))
            yield _record_upload(
                owner=owner,
                key=key,
                encoded=encoded,
                original_filename=original_filename,
                tags=list(tags),
                purpose=purpose,
                access_level=access_level,
                expiry=expiry,
                file_id=file_id,
            )
    except Exception:
        if not committed:
            default_storage.delete(key)
        raise


def upload_files(
    *,
    owner: User,
    uploads: Sequence[UploadedFile],
    tags: Sequence[str] = (),
    purpose: str = Purpose.OTHER,
    access_level: str = AccessLevel.PRIVATE,
    expiry: datetime | None = None,
) -> tuple[list[StoredFile], list[UploadFailure]]:
    """Each file on its own: one refused file does not stop the others. The batch as a
    whole is bounded first: past STORAGE_MAX_BATCH_PIXELS, summed from the headers of the
    files that would be decoded, it is refused (BatchTooLarge, 413) with nothing stored."""
    failures: list[UploadFailure] = []
    pixels = 0
    readable: list[tuple[int, UploadedFile]] = []
    for index, upload in enumerate(uploads):
        try:
            check_upload_size(upload)
            pixels += images.probe_image(upload, max_pixels=settings.STORAGE_MAX_PIXELS)
        except ApiError as exc:
            failures.append(UploadFailure(index=index, error=exc))
        else:
            readable.append((index, upload))
    budget = settings.STORAGE_MAX_BATCH_PIXELS
    if pixels > budget:
        raise BatchTooLarge(
            f"The images of this batch have {pixels:,} pixels in all; at most {budget:,} "
            "may be sent at once.",
            details={"max_batch_pixels": budget, "batch_pixels": pixels},
        )
    # One slot for the whole batch: once it starts, it is not refused as busy halfway.
    with images.decode_slot():
        stored = _upload_each(
            owner=owner,
            uploads=readable,
            failures=failures,
            tags=tags,
            purpose=purpose,
            access_level=access_level,
            expiry=expiry,
        )
    failures.sort(key=lambda failure: failure.index)
    return stored, failures


def _upload_each(
    *,
    owner: User,
    uploads: Sequence[tuple[int, UploadedFile]],
    failures: list[UploadFailure],
    tags: Sequence[str],
    purpose: str,
    access_level: str,
    expiry: datetime | None,
) -> list[StoredFile]:
    stored: list[StoredFile] = []
    for index, upload in uploads:
        try:
            stored.append(
                upload_file(
                    owner=owner,
                    upload=upload,
                    tags=tags,
                    purpose=purpose,
                    access_level=access_level,
                    expiry=expiry,
                )
            )
        except ApiError as exc:
            failures.append(UploadFailure(index=index, error=exc))
    return stored


def _record_upload(
    *,
    owner: User,
    key: str,
    encoded: images.EncodedImage,
    original_filename: str,
    tags: list[str],
    purpose: str,
    access_level: str,
    expiry: datetime | None,
    file_id: uuid.UUID | None,
) -> StoredFile:
    # The owner's row is the per-user lock: two uploads at once cannot both fit in the
    # space that is left for one. Taken by refreshing the caller's instance: a user known
    # only from a token loads the rest of its row in this one statement, so what the
    # transaction reads of it later (analytics consent) costs no query of its own.
    owner.refresh_from_db(fields=["is_active"], from_queryset=User.objects.select_for_update())
    _check_quota(owner, encoded.size)
    stored = StoredFile.objects.create(
        id=file_id or uuid.uuid4(),
        owner=owner,
        key=key,
        original_filename=original_filename,
        content_type=encoded.content_type,
        size=encoded.size,
        sha256=hashlib.sha256(encoded.data).hexdigest(),
        width=encoded.width,
        height=encoded.height,
        tags=tags,
        purpose=purpose,
        access_level=access_level,
        expiry=expiry,
    )
    from storage.tasks import make_variants  # tasks call this module: import when used

    # Robust: the upload has succeeded whatever becomes of its variants.
    robust_on_commit(make_variants.delay, str(stored.id))
    return stored


def store_data_export(*, owner: User, archive: File, expiry: datetime) -> StoredFile:
    """Stores a data-export zip (accounts.data_export) as one of the owner's private files,
    outside the quota, deleted by the expiry sweep. The blob is written outside any
    transaction; if the row cannot be recorded (the account was deleted meanwhile), the
    blob is removed again."""
    digest = hashlib.sha256()
    archive.seek(0)
    for chunk in iter(lambda: archive.read(1024 * 1024), b""):
        digest.update(chunk)
    size = archive.tell()
    archive.seek(0)
    key = default_storage.save(f"{_EXPORT_PREFIX}/{secrets.token_hex(16)}.zip", archive)
    try:
        with transaction.atomic():
            return StoredFile.objects.create(
                owner=owner,
                key=key,
                original_filename=f"future-fitness-export-{timezone.now():%Y-%m-%d}.zip",
                content_type=ZIP_CONTENT_TYPE,
                size=size,
                sha256=digest.hexdigest(),
                purpose=Purpose.DATA_EXPORT,
                expiry=expiry,
            )
    except Exception:
        default_storage.delete(key)
        raise


def _check_quota(owner: User, incoming: int) -> None:
    quota = settings.STORAGE_USER_QUOTA_BYTES
    used = selectors.used_bytes(owner)
    if used + incoming > quota:
        raise QuotaExceeded(
            f"Your storage is full ({filesizeformat(used)} of {filesizeformat(quota)} used).",
            details={"quota_bytes": quota, "used_bytes": used, "file_bytes": incoming},
        )


def make_variants(*, file_id: uuid.UUID | str) -> None:
    """Thumbnail and display copies of a stored original. Idempotent: a file that already
    has them, or no longer exists, is left alone."""
    stored = StoredFile.objects.filter(pk=file_id).first()
    if stored is None or set(VARIANT_SIDES) <= set(stored.variants):
        return
    encoded_variants = _copied_variants(stored) or _encoded_variants(stored)
    stem = PurePosixPath(stored.key).stem
    variants: dict[str, dict] = {}
    for name, encoded in encoded_variants.items():
        # Fixed names, so a retried task overwrites rather than leaves strays.
        key = f"{_KEY_PREFIX}/{stem}.{name}.{encoded.extension}"
        default_storage.delete(key)
        key = default_storage.save(key, ContentFile(encoded.data))
        variants[name] = {
            "key": key,
            "content_type": encoded.content_type,
            "size": encoded.size,
            "width": encoded.width,
            "height": encoded.height,
        }
    updated = StoredFile.objects.filter(pk=stored.pk).update(
        variants=variants, updated_at=timezone.now()
    )
    if updated:
        data_changed(tables=["stored_files"], user_ids=[stored.owner_id])
    else:
        # Deleted while we worked: its clean-up did not know about these blobs.
        remove_blobs(keys=[made["key"] for made in variants.values()])


def _encoded_variants(stored: StoredFile) -> dict[str, images.EncodedImage]:
    largest = max(VARIANT_SIDES.values())
    with images.decode_slot():
        with default_storage.open(stored.key, "rb") as blob:
            # The original was cleaned on upload; this decode is bounded by the same cap,
            # and decodes no more than the largest variant needs.
            decoded = images.decode_image(
                blob, max_pixels=settings.STORAGE_MAX_PIXELS, max_side=largest
            )
        return {
            name: images.encode_image(decoded, max_side=side)
            for name, side in VARIANT_SIDES.items()
        }


_FORMAT_OF = {spec.content_type: name for name, spec in images.OUTPUT_FORMATS.items()}


def _copied_variants(stored: StoredFile) -> dict[str, images.EncodedImage] | None:
    """The variants of another of the owner's files holding the same bytes (AI
    recognition keeps a copy of a photo recognised before with each meal), read rather
    than decoded and encoded again: the same original makes the same variants. Copied,
    not shared, since each file's blobs go with it. None when there are none to copy."""
    twin = (
        StoredFile.objects.filter(
            owner_id=stored.owner_id, sha256=stored.sha256, content_type=stored.content_type
        )
        .exclude(pk=stored.pk)
        .exclude(variants={})
        .only("variants")
        .first()
    )
    if twin is None or not set(VARIANT_SIDES) <= set(twin.variants):
        return None
    copied = {}
    for name in VARIANT_SIDES:
        made = twin.variants[name]
        try:
            with default_storage.open(made["key"], "rb") as blob:
                data = blob.read()
        except FileNotFoundError:
            return None  # the twin is being deleted: make them afresh
        copied[name] = images.EncodedImage(
            data=data,
            format=_FORMAT_OF[made["content_type"]],
            width=made["width"],
            height=made["height"],
        )
    return copied


@transaction.atomic
def delete_file(
    *,
    owner: User,
    file_id: uuid.UUID,
    precondition: Callable[[StoredFile], None] | None = None,
) -> None:
    """`precondition` (the If-Match check) sees the locked row."""
    # Locked, so the variants read here are the ones `make_variants` committed; a later
    # variants update waits, finds the row gone and removes its own blobs.
    stored = selectors.get_file(owner, file_id, for_update=True)
    if precondition is not None:
        precondition(stored)
    stored.delete()


@transaction.atomic
def delete_files(*, owner: User, ids: Iterable[uuid.UUID]) -> int:
    """Deletes those of `ids` that are the caller's live files; others are skipped."""
    # Locked for the same reason as in delete_file.
    doomed = list(
        selectors.files_for(owner).select_for_update(of=("self",)).filter(pk__in=list(ids))
    )
    for stored in doomed:
        stored.delete()
    return len(doomed)


@transaction.atomic
def delete_all_files(*, owner: User) -> int:
    """Every file of `owner`, expired ones included (an account being deleted); the blobs
    go after commit (`storage.signals`)."""
    # Locked for the same reason as in delete_file.
    doomed = list(StoredFile.objects.select_for_update().filter(owner=owner))
    for stored in doomed:
        stored.delete()
    return len(doomed)


def delete_expired_files(*, now: datetime | None = None) -> int:
    """The periodic sweep of files whose owner gave them an expiry that has passed."""
    cutoff = now or timezone.now()
    deleted = 0
    with transaction.atomic():
        for stored in StoredFile.objects.filter(expiry__lte=cutoff).select_for_update():
            stored.delete()
            deleted += 1
    return deleted


def remove_blobs(*, keys: Iterable[str]) -> None:
    for key in keys:
        default_storage.delete(key)


_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]")


def sanitize_filename(name: str) -> str:
    """The client's file name for display only: last path part, no control or reserved
    characters, at most 255 characters. It never names anything in the storage."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip(" .")
    if len(base) > 255:
        stem, dot, ext = base.rpartition(".")
        base = f"{stem[: 255 - len(ext) - 1]}.{ext}" if dot and len(ext) <= 10 else base[:255]
    return base
