"""ETag / If-Match, so an offline edit never silently overwrites a newer one."""

import hashlib

from django.db import models
from rest_framework.request import Request

from fitness.api.errors import PreconditionFailed


def etag_for(instance: models.Model) -> str:
    stamp = f"{instance.pk}:{instance.updated_at.isoformat()}"
    return '"' + hashlib.sha256(stamp.encode()).hexdigest()[:32] + '"'


def check_if_match(request: Request, instance: models.Model) -> None:
    """Raises 412 when the request names a version other than the stored one."""
    header = request.headers.get("If-Match")
    if not header:
        return
    current = etag_for(instance)
    offered = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    if "*" not in offered and current not in offered:
        raise PreconditionFailed(details={"current_etag": current})
