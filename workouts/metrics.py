"""Workout arithmetic: calorie estimates from MET values, training volume, one-rep maxima.

Pure functions on Decimals, so services can store their results and stats can aggregate
them in the database.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

# Representative MET values from the Compendium of Physical Activities (Ainsworth et al.,
# 2011 update) for a whole session of each workout type, rests included.
MET_BY_TYPE: dict[str, Decimal] = {
    # "resistance (weight) training, multiple exercises, 8-15 repetitions at varied resistance"
    "strength": Decimal("3.5"),
    # "jogging, general"
    "cardio": Decimal("7.0"),
    # "circuit training, including kettlebells, some aerobic movement with minimal rest,
    # general, vigorous intensity"
    "hiit": Decimal("8.0"),
    # "yoga, Hatha"
    "flexibility": Decimal("2.5"),
    # "basketball, general", a middle value among common team and racket sports
    "sports": Decimal("6.5"),
    # "calisthenics, home exercise, light or moderate effort, general"
    "other": Decimal("3.5"),
}

# Used when the user has not told us their weight; the estimate says so (body_weight_assumed).
DEFAULT_BODY_WEIGHT_KG = Decimal("70")

_KG = Decimal("0.0001")
# Length of Exercise.name_key, which is as long as an exercise name may be.
NAME_KEY_LENGTH = 255


class Mass(NamedTuple):
    """A weight in canonical kg, with the unit the user entered it in."""

    kg: Decimal
    unit: str


@dataclass(frozen=True)
class CalorieEstimate:
    calories: int
    met: Decimal
    body_weight_kg: Decimal
    body_weight_assumed: bool

    def basis(self) -> dict:
        """What the estimate was made from, stored beside it and shown to the client."""
        return {
            "method": "met",
            "met": float(self.met),
            "body_weight_kg": float(self.body_weight_kg),
            "body_weight_assumed": self.body_weight_assumed,
        }


def estimate_calories(
    *, workout_type: str, duration_minutes: int, body_weight_kg: Decimal | None
) -> CalorieEstimate:
    """kcal = MET x body weight (kg) x hours, since 1 MET is about 1 kcal per kg per hour."""
    met = MET_BY_TYPE[workout_type]
    weight = body_weight_kg or DEFAULT_BODY_WEIGHT_KG
    kcal = met * Decimal(weight) * Decimal(duration_minutes) / Decimal(60)
    return CalorieEstimate(
        calories=int(kcal.quantize(Decimal("1"), rounding=ROUND_HALF_UP)),
        met=met,
        body_weight_kg=Decimal(weight),
        body_weight_assumed=body_weight_kg is None,
    )


def epley_one_rep_max(weight_kg: Decimal, reps: int) -> Decimal | None:
    """Epley: 1RM = w x (1 + reps / 30). A single is its own 1RM (the formula would add 3%)."""
    if reps < 1 or weight_kg <= 0:
        return None
    if reps == 1:
        return Decimal(weight_kg).quantize(_KG)
    return (Decimal(weight_kg) * (1 + Decimal(reps) / 30)).quantize(_KG)


@dataclass(frozen=True)
class LoggedSet:
    reps: int
    weight_kg: Decimal | None


@dataclass(frozen=True)
class ExerciseMetrics:
    volume_kg: Decimal
    top_weight_kg: Decimal | None
    best_one_rep_max_kg: Decimal | None


def exercise_metrics(
    *, sets: int, reps: int, weight_kg: Decimal | None, set_logs: Iterable[LoggedSet]
) -> ExerciseMetrics:
    """Volume, heaviest weight lifted and best estimated 1RM of one exercise.

    Logged sets, when there are any, describe what was lifted more precisely than the
    summary `sets x reps x weight`; a logged set without its own weight used the
    exercise's. Only sets of at least one rep count as lifting a weight.
    """
    performed = [
        LoggedSet(reps=log.reps, weight_kg=weight_kg if log.weight_kg is None else log.weight_kg)
        for log in set_logs
    ]
    if not performed:
        performed = [LoggedSet(reps=reps, weight_kg=weight_kg)] * sets
    volume = sum(
        (Decimal(s.reps) * s.weight_kg for s in performed if s.weight_kg is not None),
        Decimal(0),
    )
    lifted = [s for s in performed if s.reps >= 1 and s.weight_kg is not None]
    top = max((s.weight_kg for s in lifted), default=None)
    maxima = [m for s in lifted if (m := epley_one_rep_max(s.weight_kg, s.reps)) is not None]
    return ExerciseMetrics(
        volume_kg=volume.quantize(_KG),
        top_weight_kg=top.quantize(_KG) if top is not None else None,
        best_one_rep_max_kg=max(maxima, default=None),
    )


def normalize_exercise_name(name: str) -> str:
    """The key personal records group by: "Bench  press" and "bench press" are one lift."""
    # Casefolding can lengthen a name ("ß" becomes "ss"), and the key's column holds as many
    # characters as a name may have; two names alike that far are one lift anyway.
    return " ".join(name.split()).casefold()[:NAME_KEY_LENGTH]
