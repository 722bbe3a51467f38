"""Dates and times as every app reads them: local days in the user's zone, and the years a
date may fall in."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

# Dates far outside a human life only overflow date arithmetic (and SQLite's functions);
# no client needs them, so they are refused as invalid input.
MIN_YEAR, MAX_YEAR = 1900, 2200


def within_supported_years(day: date) -> bool:
    return MIN_YEAR <= day.year <= MAX_YEAR


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)
