"""Measurements travel as `{"value": number, "unit": "kg"}` and are stored in metric units.

Storing one canonical unit keeps sorting, statistics and goal maths simple; the client's
measurement system decides only how values are rendered back.
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
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


def from_metric(value: Decimal, kind: str, system: str = "metric") -> dict:
    factors, metric_unit, imperial_unit = _KINDS[kind]
    unit = imperial_unit if system == "imperial" else metric_unit
    return {"value": float(round(Decimal(value) / factors[unit], 2)), "unit": unit}


@extend_schema_field(
    {
        "type": "object",
        "required": ["value", "unit"],
        "properties": {
            "value": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            "unit": {"type": "string", "enum": ["kg", "g", "lb", "cm", "m", "in", "ft"]},
        },
    }
)
class MeasurementField(serializers.Field):
    """Reads `{value, unit}` into a metric Decimal; renders in the user's system."""

    default_error_messages = {
        "invalid": "Expected an object {{value: number, unit: string}}.",
        "unit": "Unknown unit {unit!r}; use one of: {choices}.",
        "range": "Value must be greater than 0 and at most {maximum} {unit}.",
    }

    def __init__(self, *, kind: str, max_metric: Decimal, **kwargs):
        self.kind = kind
        self.max_metric = Decimal(max_metric)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict) or set(data) - {"value", "unit"} or "value" not in data:
            self.fail("invalid")
        unit = data.get("unit")
        factors, metric_unit, _ = _KINDS[self.kind]
        if not isinstance(unit, str) or unit not in factors:
            self.fail("unit", unit=unit, choices=", ".join(factors))
        value = data["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.fail("invalid")
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            self.fail("invalid")
        if not number.is_finite():
            self.fail("invalid")
        # Checked after rounding to the stored precision: 1 g must not become a 0.00 kg
        # weight that the database's positive-value constraint then refuses.
        metric = to_metric(number, unit, self.kind).quantize(Decimal("0.01"))
        if metric <= 0 or metric > self.max_metric:
            self.fail("range", maximum=self.max_metric, unit=metric_unit)
        return metric

    def to_representation(self, value):
        system = self.context.get("measurement_system", "metric")
        return from_metric(value, self.kind, system)
