"""Measurements travel as `{"value": number, "unit": "kg"}` and are stored in metric units.

Storing one canonical unit keeps sorting, statistics and goal maths simple; the client's
measurement system decides only how values are rendered back.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

MASS_TO_KG = {"kg": Decimal("1"), "g": Decimal("0.001"), "lb": Decimal("0.45359237")}
LENGTH_TO_CM = {
    "cm": Decimal("1"),
    "m": Decimal("100"),
    "in": Decimal("2.54"),
    "ft": Decimal("30.48"),
}

_KINDS = {"mass": (MASS_TO_KG, "kg", "lb"), "length": (LENGTH_TO_CM, "cm", "in")}


def to_metric(value: Decimal, unit: str, kind: str) -> Decimal:
    factors = _KINDS[kind][0]
    return Decimal(value) * factors[unit]


def in_unit(value: Decimal, unit: str, kind: str) -> dict:
    """`{value, unit}` of a metric value, converted to `unit` (two decimal places)."""
    factors = _KINDS[kind][0]
    return {"value": float(round(Decimal(value) / factors[unit], 2)), "unit": unit}


def from_metric(value: Decimal, kind: str, system: str = "metric") -> dict:
    _, metric_unit, imperial_unit = _KINDS[kind]
    return in_unit(value, imperial_unit if system == "imperial" else metric_unit, kind)


def measurement_schema(kind: str, *, allow_zero: bool = False) -> dict:
    """The OpenAPI schema of a `{value, unit}` of `kind`."""
    value: dict = {"type": "number", "minimum": 0}
    if not allow_zero:
        value["exclusiveMinimum"] = True
    units = {"type": "string", "enum": list(_KINDS[kind][0])}
    return {
        "type": "object",
        "required": ["value", "unit"],
        "properties": {"value": value, "unit": units},
    }


class MeasurementField(serializers.Field):
    """Reads `{value, unit}` into metric units (kg, cm).

    - `max_metric`: the largest value accepted, in the metric unit (None: no bound, for
      fields that are only rendered);
    - `allow_zero`: 0 is a value (a bodyweight exercise), not a missing measurement;
    - `decimal_places`: the stored precision; bounds are checked at it, so 1 g does not
      become a 0.00 kg weight that the database's positive-value constraint then refuses;
    - `as_entered(metric, unit)`: keep the unit the client entered: the field returns what
      this builds (a `(metric, unit)` pair) and renders it back in that unit; without it
      the field returns the metric Decimal, rendered in the user's measurement system;
    - `numbers_only`: a value sent as a string ("72.5") is refused.
    """

    default_error_messages = {
        "invalid": "Expected an object {{value: number, unit: string}}.",
        "unit": "Unknown unit; use one of: {choices}.",
        "range": "Value must be greater than 0 and at most {maximum} {unit}.",
        "range_with_zero": "Value must be between 0 and {maximum} {unit}.",
    }

    def __init__(
        self,
        *,
        kind: str,
        max_metric: Decimal | None = None,
        allow_zero: bool = False,
        decimal_places: int = 2,
        as_entered: Callable[[Decimal, str], Any] | None = None,
        numbers_only: bool = False,
        **kwargs,
    ):
        self.kind = kind
        self.max_metric = None if max_metric is None else Decimal(max_metric)
        self.allow_zero = allow_zero
        self.step = Decimal(1).scaleb(-decimal_places)
        self.as_entered = as_entered
        self.numbers_only = numbers_only
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict) or set(data) - {"value", "unit"} or "value" not in data:
            self.fail("invalid")
        unit = data.get("unit")
        factors = _KINDS[self.kind][0]
        if not isinstance(unit, str) or unit not in factors:
            self.fail("unit", unit=unit, choices=", ".join(factors))
        value = data["value"]
        accepted = (int, float) if self.numbers_only else (int, float, str)
        if isinstance(value, bool) or not isinstance(value, accepted):
            self.fail("invalid")
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            self.fail("invalid")
        if not number.is_finite():
            self.fail("invalid")
        try:
            metric = to_metric(number, unit, self.kind).quantize(self.step)
        except ArithmeticError:
            self._out_of_range()  # too many digits to round: far beyond any bound
        too_large = self.max_metric is not None and metric > self.max_metric
        if number < 0 or too_large or (metric == 0 and not self.allow_zero):
            self._out_of_range()
        return metric if self.as_entered is None else self.as_entered(metric, unit)

    def _out_of_range(self):
        self.fail(
            "range_with_zero" if self.allow_zero else "range",
            maximum=self.max_metric,
            unit=_KINDS[self.kind][1],
        )

    def to_representation(self, value):
        if self.as_entered is not None:
            metric, unit = value
            return in_unit(metric, unit, self.kind)
        system = self.context.get("measurement_system", "metric")
        return from_metric(value, self.kind, system)


class MeasurementFieldSchema(OpenApiSerializerFieldExtension):
    """Each field's schema follows its own kind and bounds."""

    target_class = MeasurementField

    def map_serializer_field(self, auto_schema, direction):
        return measurement_schema(self.target.kind, allow_zero=self.target.allow_zero)
