"""The API's JSON renderer answers DRF's JSONRenderer bytes, whatever the data."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from fitness.api.renderers import ORJSONRenderer
from workouts.models import WorkoutType

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def same(data, **kwargs) -> bytes:
    ours = ORJSONRenderer().render(data, **kwargs)
    assert ours == JSONRenderer().render(data, **kwargs)
    return ours


@settings(max_examples=300, deadline=None)
@given(_json)
def test_any_json_value_renders_as_drf_does(data):
    same(data)


def test_a_small_float_alone_renders_as_drf_does():
    # Found by the property above: a body that is one number has nothing before it.
    assert same(1.192092896e-07) == b"1.192092896e-07"
    assert same(-0.00001) == b"-1e-05"


def test_values_without_a_json_type_render_as_drf_does():
    same(
        {
            "aware": datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
            "whole_second": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            "offset": datetime.fromisoformat("2026-01-02T03:04:05+05:30"),
            "naive": datetime(2026, 1, 2, 3, 4, 5),
            "day": date(2026, 1, 2),
            "clock": time(3, 4, 5),
            "span": timedelta(hours=1, seconds=5),
            "grams": Decimal("12.50"),
            "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "lazy": gettext_lazy("Not found."),
            "detail": ErrorDetail("This field is required.", code="required"),
            "choice": WorkoutType.HIIT,
            "tuple": (1, "a"),
            "int_keys": {1: "one", 2: "two"},
        }
    )


def test_the_cases_orjson_writes_differently_fall_back_to_drf():
    for data in ([1e-05, 1e-07, -3.5e-300], {"text": "line\u2028break\u2029"}, 2**64, None):
        same(data)
    assert same({"x": 0.00001}) == b'{"x":1e-05}'
    assert same("\u2028") == b'"\\u2028"'


def test_indented_output_is_drfs():
    same({"a": [1, 2]}, accepted_media_type="application/json; indent=2")


def test_uuids_and_words_that_look_like_exponents_stay_with_orjson(monkeypatch):
    data = {"id": "0e61b5ce-0e2d-4b9f-8d3e-2e-5", "note": "type-e-5", "n": 1e16}
    monkeypatch.setattr(JSONRenderer, "render", lambda *args, **kwargs: b"not used")

    assert ORJSONRenderer().render(data) == (
        b'{"id":"0e61b5ce-0e2d-4b9f-8d3e-2e-5","note":"type-e-5","n":1e+16}'
    )


def test_a_small_float_after_many_exponent_lookalikes_falls_back_to_drf():
    # Each UUID's `e-` is a place the scan looks; the number at the end must still be found.
    data = {
        "ids": [f"12345678-123e-5678-{n:04d}" for n in range(200)],
        "x": -1.2345678901234567e-300,
    }
    same(data)
    same({"ids": data["ids"], "x": 10.00001, "y": [0.00001]})
