"""Serializer fields shared by several apps' query parameters."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fitness.timeutils import MAX_YEAR, MIN_YEAR, start_of_day, within_supported_years


@extend_schema_field({"type": "string", "example": "2026-11-25 or 2026-11-25T08:00:00+01:00"})
class TimeBoundField(serializers.Field):
    """A date or a datetime. A date means a whole day in the zone given by the context
    (`zone`): as a lower bound its first instant, as an upper bound its last.

    The value is returned as an aware datetime; upper bounds are exclusive, so callers
    filter with `__gte` for `from` and `__lt` for `to`. The context's `zone` may also be a
    function that returns it, called only when a value needs it (reading the user's zone
    loads the user's row, which a list without a date bound never needs).
    """

    default_error_messages = {
        "invalid": "Use YYYY-MM-DD or an ISO 8601 date-time.",
        "year": f"Use a date between the years {MIN_YEAR} and {MAX_YEAR}.",
    }

    def __init__(self, *, upper: bool = False, **kwargs):
        self.upper = upper
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> datetime:
        zone = self.context.get("zone")
        zone: ZoneInfo = (zone() if callable(zone) else zone) or ZoneInfo("UTC")
        text = str(data).strip()
        try:
            moment = parse_datetime(text) if "T" in text or " " in text else None
            day = None if moment else parse_date(text)
        except ValueError:
            self.fail("invalid")
        if (moment or day) is not None and not within_supported_years(moment or day):
            self.fail("year")
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            return moment + (timedelta(microseconds=1) if self.upper else timedelta(0))
        if day is None:
            self.fail("invalid")
        return start_of_day(day + timedelta(days=1) if self.upper else day, zone)

    def to_representation(self, value):
        return value.isoformat()
