"""sync.tables: the client's columns from the rows a pull reads."""

from datetime import UTC, datetime, timedelta

import pytest

from sync.tables import epoch_ms

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Whole milliseconds where `datetime.timestamp() * 1000` lands just under the integer (so
# the client has always got one less than microseconds // 1000), and ordinary times.
@pytest.mark.parametrize(
    "micros", [270_355_460_604_000, 1_079_068_009_182_000, 1_796_287_062_050_123, 0, 999]
)
def test_a_time_read_in_microseconds_gives_the_milliseconds_of_its_datetime(micros):
    moment = _EPOCH + timedelta(microseconds=micros)

    assert epoch_ms(micros) == epoch_ms(moment) == int(moment.timestamp() * 1000)
