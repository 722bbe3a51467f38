"""What DRF's fields make of plain values, for the lists rendered without serializers
(fitness.rows): the same strings and numbers, so the bytes match the serializers'."""

from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from uuid import UUID

import orjson
from django.utils import timezone


def zone() -> tzinfo:
    """The zone DRF renders times in; look it up once per response, not per field.

    UTC (the project's zone) comes back as `datetime.UTC`, the zone the rows' times are
    in already: converting them to `ZoneInfo("UTC")`, the same offset, cost more than
    writing them out.
    """
    current = timezone.get_current_timezone()
    return UTC if getattr(current, "key", None) == "UTC" else current


def iso_datetime(value: datetime | None, zone: tzinfo) -> str | None:
    """`serializers.DateTimeField().to_representation`: ISO 8601, `Z` for UTC."""
    if value is None:
        return None
    if value.tzinfo is not zone:
        value = value.astimezone(zone)
    if zone is UTC:
        # orjson writes a UTC time as isoformat() does, `Z` for the offset, in about a
        # quarter of the time: isoformat() formats through C's sprintf, and a page of 50
        # food logs writes 150 times (9% of the request's instructions, by callgrind).
        return orjson.dumps(value, option=orjson.OPT_UTC_Z)[1:-1].decode()
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def number(value: Decimal | None) -> float | None:
    """A `DecimalField(coerce_to_string=False)` as DRF's JSON encoder writes it."""
    return None if value is None else float(value)


def uuid_text(value: UUID | None) -> str | None:
    return None if value is None else str(value)
