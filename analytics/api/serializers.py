import re
from datetime import timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from analytics.events import CLIENT_EVENTS
from fitness.serializers import StrictSerializer

MAX_EVENTS = 100
MAX_PROPERTIES = 20
MAX_STRING = 200
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Older events than this are refused rather than stored under a day already rolled up
# long ago; an offline app catches up within a week.
MAX_AGE = timedelta(days=7)
# Client clocks drift; an event further ahead than this is a broken clock, not a moment.
MAX_CLOCK_SKEW = timedelta(minutes=10)


class ClientEventSerializer(StrictSerializer):
    id = serializers.UUIDField(help_text="The client's id for this event; resending it is safe.")
    name = serializers.ChoiceField(choices=sorted(CLIENT_EVENTS))
    timestamp = serializers.DateTimeField(help_text="When it happened, ISO 8601 with a zone.")
    properties = serializers.DictField(
        required=False,
        help_text=f"Up to {MAX_PROPERTIES} keys (lower snake case, 40 characters) with "
        f"flat values: strings up to {MAX_STRING} characters, numbers, booleans or null.",
    )

    def to_internal_value(self, data):
        # A moment without a zone would be read in the server's; the client must say.
        stamp = data.get("timestamp") if isinstance(data, dict) else None
        parsed = parse_datetime(stamp) if isinstance(stamp, str) else None
        if parsed is not None and parsed.tzinfo is None:
            raise serializers.ValidationError({"timestamp": ["Needs a time zone."]})
        return super().to_internal_value(data)

    def validate_timestamp(self, value):
        now = timezone.now()
        if value > now + MAX_CLOCK_SKEW:
            raise serializers.ValidationError("Lies in the future.")
        if value < now - MAX_AGE:
            raise serializers.ValidationError("Older than 7 days.")
        return value

    def validate_properties(self, value: dict) -> dict:
        if len(value) > MAX_PROPERTIES:
            raise serializers.ValidationError(f"At most {MAX_PROPERTIES} properties.")
        for key, item in value.items():
            if not _KEY.match(key):
                raise serializers.ValidationError(f"Invalid property name: {key[:40]!r}.")
            if isinstance(item, str):
                if len(item) > MAX_STRING:
                    raise serializers.ValidationError(f"{key}: at most {MAX_STRING} characters.")
            elif isinstance(item, float):
                if item != item or item in (float("inf"), float("-inf")):
                    raise serializers.ValidationError(f"{key}: not a finite number.")
            elif isinstance(item, int) and not isinstance(item, bool):
                if abs(item) > 2**53:
                    raise serializers.ValidationError(f"{key}: number out of range.")
            elif item is not None and not isinstance(item, bool):
                raise serializers.ValidationError(f"{key}: only flat values are allowed.")
        return value


class ClientEventBatchSerializer(StrictSerializer):
    events = serializers.ListField(
        child=ClientEventSerializer(), min_length=1, max_length=MAX_EVENTS
    )


class ClientEventBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored now.")
    duplicates = serializers.IntegerField(
        help_text="Events whose id was already stored (or repeated in this batch)."
    )
