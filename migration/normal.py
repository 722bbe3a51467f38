"""One normal form for values read from the source and values read back from our database.

An imported row's normal form is hashed at import and again by `migration_report`; the two
agree only if nothing was lost or changed on the way. The same conversion turns source rows
into JSON for the legacy data and for the raw-row hash that makes re-runs no-ops.
"""

import base64
import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


def aware(value: datetime) -> datetime:
    """A timestamp without a zone is read as UTC (Supabase's `timestamp` columns and the
    plan's clients wrote UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return aware(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def digest(value: Any) -> str:
    text = json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def grams(value: Any) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def instant(value: datetime | None) -> str | None:
    return None if value is None else aware(value).isoformat()
