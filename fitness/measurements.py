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


class InvalidQuantity(ValueError):
    """Why a client's `{value, unit}` was refused; `key` names the field's error message."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def parse_quantity(
    data: object, *, kind: str, maximum: Decimal, places: Decimal, zero_allowed: bool
) -> tuple[Decimal, str]:
    """A client's `{value, unit}` → (metric value rounded to `places`, unit).

    The one place client measurements become Decimals, so every field refuses the same
    inputs the same way: only JSON numbers (the parser already refused NaN, Infinity and
    out-of-range floats), bounds checked before rounding (quantizing 1e300 to 0.01 overflows
    the decimal context) and a positive value checked after it (1 g must not become a
    0.00 kg value that the database's positive-value constraint then refuses).
    """
    factors = _KINDS[kind][0]
    if not isinstance(data, dict) or set(data) - {"value", "unit"} or "value" not in data:
        raise InvalidQuantity("invalid")
    unit = data.get("unit")
    if not isinstance(unit, str) or unit not in factors:
        raise InvalidQuantity("unit")
    value = data["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidQuantity("invalid")
    number = Decimal(str(value))
    if not number.is_finite():
        raise InvalidQuantity("invalid")
    metric = to_metric(number, unit, kind)
    if metric < 0 or metric > maximum:
        raise InvalidQuantity("range")
    metric = metric.quantize(places)
    if metric == 0 and not zero_allowed:
        raise InvalidQuantity("range")
    return metric, unit


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
        "unit": "Unknown unit; use one of: {choices}.",
        "range": "Value must be greater than 0 and at most {maximum} {unit}.",
    }

    def __init__(self, *, kind: str, max_metric: Decimal, **kwargs):
        self.kind = kind
        self.max_metric = Decimal(max_metric)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        factors, metric_unit, _ = _KINDS[self.kind]
        try:
            metric, _ = parse_quantity(
                data,
                kind=self.kind,
                maximum=self.max_metric,
                places=Decimal("0.01"),
                zero_allowed=False,
            )
        except InvalidQuantity as refused:
            self.fail(
                refused.key,
                choices=", ".join(factors),
                maximum=self.max_metric,
                unit=metric_unit,
            )
        return metric

    def to_representation(self, value):
        system = self.context.get("measurement_system", "metric")
        return from_metric(value, self.kind, system)
