"""Expiring URLs for stored blobs.

On Google Cloud Storage they are V4 signed URLs that GCS itself checks. On the local
backend the media folder is never served; the URL names `storage-signed-file`, a view that
checks a Django-signed token carrying the file, the variant and the expiry time.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from storages.backends.gcloud import GoogleCloudStorage

from fitness.api.errors import ApiError
from fitness.error_codes import ErrorCode

_SALT = "storage.signed-url"


class InvalidSignature(ApiError):
    code = ErrorCode.INVALID_SIGNATURE
    message = "This file link is not valid."


class UrlExpired(ApiError):
    code = ErrorCode.URL_EXPIRED
    message = "This file link has expired; ask for a new one."


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class LocalGrant:
    file_id: uuid.UUID
    variant: str | None
    expires: int  # Unix time

    @property
    def seconds_left(self) -> int:
        return max(0, self.expires - int(time.time()))


def sign(*, file_id: uuid.UUID, variant: str | None, key: str) -> SignedUrl:
    """A URL for blob `key` (the file's `variant`, or its original) valid for the TTL."""
    ttl = settings.STORAGE_URL_TTL_SECONDS
    expires_at = timezone.now().replace(microsecond=0) + timedelta(seconds=ttl)
    if isinstance(default_storage, GoogleCloudStorage):
        return SignedUrl(_gcs_url(key, ttl), expires_at)
    return SignedUrl(local_url(file_id=file_id, variant=variant, expires_at=expires_at), expires_at)


def _gcs_url(key: str, ttl: int) -> str:
    parameters = {"expiration": timedelta(seconds=ttl), "version": "v4"}
    # A service-account key signs locally. Without one (workload identity) django-storages
    # signs through IAM signBlob when GS_IAM_SIGN_BLOB is on.
    credentials = getattr(settings, "GS_CREDENTIALS", None)
    if credentials is not None:
        parameters["credentials"] = credentials
    return default_storage.url(key, parameters=parameters)


def local_url(*, file_id: uuid.UUID, variant: str | None, expires_at: datetime) -> str:
    """Site-relative URL of the local file view; callers with a request make it absolute."""
    payload = {"f": str(file_id), "v": variant or "", "e": int(expires_at.timestamp())}
    token = signing.dumps(payload, salt=_SALT, compress=True)
    return reverse("storage-signed-file", kwargs={"token": token})


def read_local_token(token: str) -> LocalGrant:
    """The grant a local token carries; 403 when it was tampered with or has expired."""
    try:
        payload = signing.loads(token, salt=_SALT)
        file_id = uuid.UUID(payload["f"])
        variant = str(payload["v"]) or None
        expires = int(payload["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidSignature() from exc
    if expires <= time.time():
        raise UrlExpired()
    return LocalGrant(file_id=file_id, variant=variant, expires=expires)
