"""Reads of stored files, ownership built in, and the signed URLs other apps render.

Food logs and workouts call `owned_files` to validate the file ids a client links, and
`signed_url` / `signed_urls` to render them: signing is cached briefly, so a page of 50
photos neither signs 50 times per request nor queries per item.
"""

import hashlib
import uuid
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db.models import QuerySet, Sum
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError

from accounts.models import User
from fitness.api.errors import NotFound
from storage import signing
from storage.models import Purpose, StoredFile
from storage.signing import SignedUrl


def files_for(user: User) -> QuerySet[StoredFile]:
    return StoredFile.objects.for_owner(user)


def list_files(user: User, *, purpose: str | None = None) -> QuerySet[StoredFile]:
    """The caller's live files, newest first, optionally only those of one `purpose`.
    Data exports are reached through their own endpoint, not listed among the photos."""
    files = files_for(user).exclude(purpose=Purpose.DATA_EXPORT)
    return files.filter(purpose=purpose) if purpose else files


def get_file(user: User, file_id: uuid.UUID, *, for_update: bool = False) -> StoredFile:
    """The caller's own live file; 404 for anyone else's, as if it did not exist."""
    files = files_for(user)
    if for_update:
        files = files.select_for_update(of=("self",))
    found = files.filter(pk=file_id).first()
    if found is None:
        raise NotFound("No such file.")
    return found


def granted_file(file_id: uuid.UUID) -> StoredFile:
    """The live file a signed link names, whoever follows it: the link is the permission."""
    found = StoredFile.objects.live().filter(pk=file_id).first()
    if found is None:
        raise NotFound("No such file.")
    return found


def live_file(file_id: uuid.UUID | None) -> StoredFile | None:
    """The file `file_id` names if it still exists and has not expired."""
    if file_id is None:
        return None
    return StoredFile.objects.live().filter(pk=file_id).first()


def is_live(file_id: uuid.UUID | None) -> bool:
    """Whether `file_id` names a file that still exists and has not expired."""
    return file_id is not None and StoredFile.objects.live().filter(pk=file_id).exists()


def owned_files(
    user: User, ids: Sequence[uuid.UUID | str], *, field: str = "file_ids"
) -> list[StoredFile]:
    """The caller's files for `ids`, in the order given (duplicates collapsed).

    Any id that is not one of the caller's live files (someone else's, deleted, expired,
    malformed) fails the whole call with a 400 naming those ids under `field`.
    """
    wanted: list[uuid.UUID] = []
    malformed: list[str] = []
    for raw in ids:
        try:
            parsed = raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
        except ValueError:
            malformed.append(str(raw))
            continue
        if parsed not in wanted:
            wanted.append(parsed)
    found = {stored.id: stored for stored in files_for(user).filter(pk__in=wanted)}
    unknown = malformed + [str(file_id) for file_id in wanted if file_id not in found]
    if unknown:
        raise ValidationError({field: [f"Unknown file id(s): {', '.join(unknown)}."]})
    return [found[file_id] for file_id in wanted]


def file_with_bytes(user: User, *, sha256: str, content_type: str) -> StoredFile | None:
    """One of the caller's live files holding exactly these bytes (by digest), if any."""
    return (
        files_for(user)
        .filter(sha256=sha256, content_type=content_type)
        .exclude(purpose=Purpose.DATA_EXPORT)
        .first()
    )


def used_bytes(user: User) -> int:
    """Bytes counted against the quota: every stored original, expired or not, until it
    is actually deleted. Data exports are ours, made on request, and count for nothing."""
    files = StoredFile.objects.filter(owner=user).exclude(purpose=Purpose.DATA_EXPORT)
    total = files.aggregate(total=Sum("size"))["total"]
    return total or 0


def grant(
    stored: StoredFile, *, variant: str | None = None, request: HttpRequest | None = None
) -> SignedUrl:
    """A signed, expiring URL (and its expiry) for the file or one of its variants."""
    return grants([stored], variant=variant, request=request)[stored.id]


def signed_url(
    stored: StoredFile, *, variant: str | None = None, request: HttpRequest | None = None
) -> str:
    return grant(stored, variant=variant, request=request).url


def signed_urls(
    files: Iterable[StoredFile],
    *,
    variant: str | None = None,
    request: HttpRequest | None = None,
) -> dict[uuid.UUID, str]:
    """{file id: URL} for already-loaded files, in one cache round trip and no query."""
    return {
        file_id: signed.url
        for file_id, signed in grants(files, variant=variant, request=request).items()
    }


def signed_urls_by_id(
    file_ids: Iterable[uuid.UUID], *, request: HttpRequest | None = None
) -> dict[uuid.UUID, str]:
    """`signed_urls` for files known by id only (rows of a list): one query, only when
    there is a file to sign. The ids come from rows that already link them."""
    ids = {file_id for file_id in file_ids if file_id is not None}
    if not ids:
        return {}
    return signed_urls(StoredFile.objects.filter(pk__in=ids), request=request)


def grants(
    files: Iterable[StoredFile],
    *,
    variant: str | None = None,
    request: HttpRequest | None = None,
) -> dict[uuid.UUID, SignedUrl]:
    files = list(files)
    keys = {stored.id: _cache_key(stored, variant) for stored in files}
    cached = cache.get_many(list(keys.values())) if keys else {}
    result: dict[uuid.UUID, SignedUrl] = {}
    fresh: dict[str, SignedUrl] = {}
    for stored in files:
        signed = cached.get(keys[stored.id])
        if signed is None:
            blob_key, _ = stored.blob_for(variant)
            signed = signing.sign(file_id=stored.id, variant=variant, key=blob_key)
            fresh[keys[stored.id]] = signed
        result[stored.id] = signed
    if fresh:
        # A quarter of the lifetime: every URL handed out still has most of its life left.
        cache.set_many(fresh, timeout=max(1, settings.STORAGE_URL_TTL_SECONDS // 4))
    if request is not None:
        result = {
            file_id: SignedUrl(request.build_absolute_uri(signed.url), signed.expires_at)
            for file_id, signed in result.items()
        }
    return result


def _cache_key(stored: StoredFile, variant: str | None) -> str:
    # The blob key is part of it, so a variant that appears later gets its own URL.
    blob_key, _ = stored.blob_for(variant)
    digest = hashlib.sha256(f"{stored.id}|{variant or ''}|{blob_key}".encode()).hexdigest()
    return f"storage:url:{digest}"


def read_bytes(stored: StoredFile, *, variant: str | None = None) -> bytes:
    """The stored (already cleaned) bytes, e.g. for AI recognition of an uploaded photo."""
    blob_key, _ = stored.blob_for(variant)
    with default_storage.open(blob_key, "rb") as blob:
        return blob.read()
