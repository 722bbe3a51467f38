"""Daily nutrition goals: the user's own numbers, else derived from the profile, else defaults.

Derived goals use the Mifflin-St Jeor BMR times an activity factor, shifted for the
fitness goal. The macro split is chosen so that at 2,000 kcal it gives exactly the FDA
Daily Values (protein 50 g, fat 78 g, carbs 275 g, fiber 28 g, sugar 50 g), which are
also the defaults when the profile lacks weight, height or birthday. Protein follows the body
weight (g/kg by fitness goal) whenever the weight is known.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from accounts.models import FitnessGoal, Gender, User

GoalSource = Literal["preferences", "profile", "default"]
NUTRIENTS = ("calories", "protein", "carbs", "fat", "fiber", "sugar")

ACTIVITY_FACTORS = {
    "sedentary": 1.2,
    "light": 1.375,
    "moderate": 1.55,
    "active": 1.725,
    "very_active": 1.9,
}
# People who install a fitness app and log food are rarely fully sedentary, but "moderate"
# (exercise most days) overestimates many of them; "light" errs on the safe side.
DEFAULT_ACTIVITY_LEVEL = "light"

_SEX_CONSTANT = {Gender.MALE: 5.0, Gender.FEMALE: -161.0}
# Midpoint of the male and female constants when the profile does not say either.
_NEUTRAL_SEX_CONSTANT = -78.0

_GOAL_ADJUSTMENT_KCAL = {
    FitnessGoal.LOSE_WEIGHT: -500,
    FitnessGoal.GAIN_MUSCLE: 300,
}
_PROTEIN_G_PER_KG = {
    FitnessGoal.LOSE_WEIGHT: 1.8,
    FitnessGoal.GAIN_MUSCLE: 2.0,
    FitnessGoal.IMPROVE_ENDURANCE: 1.4,
}
_DEFAULT_PROTEIN_G_PER_KG = 1.2
# Below this intake a diet needs medical supervision; the app never suggests less.
MIN_CALORIES = 1200
DEFAULT_CALORIES = 2000
_MAX_GOAL = {"calories": 20_000.0, "default": 5_000.0}


@dataclass(frozen=True)
class DailyGoals:
    calories: int
    protein: float
    carbs: float
    fat: float
    fiber: float
    sugar: float
    source: GoalSource

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in NUTRIENTS}


def _age(birthday: date, today: date) -> int:
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def bmr(*, weight_kg: float, height_cm: float, age: int, gender: str) -> float:
    """Mifflin-St Jeor resting energy expenditure in kcal/day."""
    constant = _SEX_CONSTANT.get(gender, _NEUTRAL_SEX_CONSTANT)
    return 10 * weight_kg + 6.25 * height_cm - 5 * age + constant


def activity_level(preferences: dict[str, Any]) -> str:
    level = preferences.get("activity_level")
    return level if level in ACTIVITY_FACTORS else DEFAULT_ACTIVITY_LEVEL


def _profile_calories(user: User, today: date) -> float | None:
    if user.weight_kg is None or user.height_cm is None or user.birthday is None:
        return None
    rest = bmr(
        weight_kg=float(user.weight_kg),
        height_cm=float(user.height_cm),
        age=_age(user.birthday, today),
        gender=user.gender,
    )
    tdee = rest * ACTIVITY_FACTORS[activity_level(_preferences(user))]
    return max(MIN_CALORIES, tdee + _GOAL_ADJUSTMENT_KCAL.get(user.fitness_goal, 0))


def _preferences(user: User) -> dict[str, Any]:
    return user.preferences if isinstance(user.preferences, dict) else {}


def _preferred(user: User) -> dict[str, float]:
    """The valid numbers in `preferences.daily_goals`; anything else there is ignored."""
    raw = _preferences(user).get("daily_goals")
    if not isinstance(raw, dict):
        return {}
    chosen = {}
    for name in NUTRIENTS:
        value = raw.get(name)
        limit = _MAX_GOAL.get(name, _MAX_GOAL["default"])
        # At least 1 (kcal or g): smaller values round to a goal of zero.
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value <= limit:
            chosen[name] = float(value)
    return chosen


def daily_goals(user: User, today: date) -> DailyGoals:
    preferred = _preferred(user)
    from_profile = _profile_calories(user, today)
    if preferred:
        source: GoalSource = "preferences"
    elif from_profile is not None:
        source = "profile"
    else:
        source = "default"
    calories = preferred.get("calories") or from_profile or DEFAULT_CALORIES
    weight = float(user.weight_kg) if user.weight_kg is not None else None
    if weight is not None:
        protein = weight * _PROTEIN_G_PER_KG.get(user.fitness_goal, _DEFAULT_PROTEIN_G_PER_KG)
    else:
        protein = calories * 0.10 / 4
    protein = preferred.get("protein", protein)
    fat = preferred.get("fat", calories * 0.35 / 9)
    carbs = preferred.get("carbs", max(0.0, (calories - protein * 4 - fat * 9) / 4))
    return DailyGoals(
        calories=round(calories),
        protein=round(protein, 1),
        carbs=round(carbs, 1),
        fat=round(fat, 1),
        fiber=round(preferred.get("fiber", calories * 14 / 1000), 1),
        sugar=round(preferred.get("sugar", calories * 0.10 / 4), 1),
        source=source,
    )
