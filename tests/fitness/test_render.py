"""`fitness.api.render.iso_datetime` writes a time exactly as DRF's `DateTimeField` does."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from fitness.api.render import iso_datetime

_times = st.datetimes(timezones=st.just(UTC))


@given(_times)
def test_a_utc_time_reads_as_drf_writes_it(value):
    assert iso_datetime(value, UTC) == serializers.DateTimeField().to_representation(value)


@given(_times, st.sampled_from(["Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam"]))
def test_a_time_in_another_zone_reads_as_drf_writes_it(value, name):
    zone = ZoneInfo(name)
    with timezone.override(zone):
        expected = serializers.DateTimeField().to_representation(value)
    assert iso_datetime(value, zone) == expected


def test_whole_seconds_and_the_ends_of_the_calendar():
    for value in (
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
        datetime(2026, 12, 4, 9, 30, 0, 10, tzinfo=UTC),
    ):
        assert iso_datetime(value, UTC) == serializers.DateTimeField().to_representation(value)
