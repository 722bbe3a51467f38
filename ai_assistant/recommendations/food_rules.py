"""Meal suggestions without a model: what fits the rest of today's goals.

The next meal follows the user's local time and what they already logged today. It gets the
share of the remaining calories and protein that its usual part of a day's intake
(breakfast 25 %, lunch 35 %, snack 10 %, dinner 30 %) has among the meals still to come.
No meal gets more than 1.5 times its usual share of the day's goals, however much is left.
Every allowed catalogue meal is scaled to the portion closest to that target and scored by
how far it misses the calories, how short it falls on protein and how far it overshoots the
carbs and fat left; the best three are suggested.
"""

from dataclasses import dataclass
from datetime import time

from ai_assistant.personal_context import Snapshot
from ai_assistant.recommendations.catalogue import MEALS, Meal, allowed
from ai_assistant.recommendations.schemas import MealSuggestion

SUGGESTIONS = 3
PORTIONS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
# Below this many kcal left, the day's goal counts as reached.
NEARLY_DONE_KCAL = 100
LIGHT_KCAL = 60
SNACK_SHARE = 0.10
# In the order of a day, with when each is usually over and its share of the intake.
SLOTS: tuple[tuple[str, time, float], ...] = (
    ("breakfast", time(10, 30), 0.25),
    ("lunch", time(15, 0), 0.35),
    ("snack", time(17, 30), SNACK_SHARE),
    ("dinner", time(21, 30), 0.30),
)
# A meal may bring at most this many times its usual share of the day's goals.
MAX_SHARE_FACTOR = 1.5
_PROTEIN_WEIGHT = 0.6
_OVERSHOOT_WEIGHT = 0.3


@dataclass(frozen=True)
class MealTarget:
    meal_type: str
    calories: float
    protein: float


def next_meal(snapshot: Snapshot) -> MealTarget:
    """The next meal of the day and what it should bring."""
    logged = {meal["meal_type"] for meal in snapshot.meals_today}
    clock = snapshot.now.time()
    upcoming = [(name, share) for name, ends, share in SLOTS if clock < ends and name not in logged]
    if not upcoming:
        upcoming = [("snack", SNACK_SHARE)]
    meal_type, share = upcoming[0]
    fraction = share / sum(weight for _, weight in upcoming)
    remaining = snapshot.remaining_today
    goals = snapshot.goals

    def target(name: str) -> float:
        # What is left is not crammed into one meal (a late dinner, a bedtime snack).
        cap = getattr(goals, name) * share * MAX_SHARE_FACTOR
        return min(cap, max(0.0, remaining[name] * fraction))

    return MealTarget(meal_type=meal_type, calories=target("calories"), protein=target("protein"))


def suggest_meals(snapshot: Snapshot) -> tuple[list[MealSuggestion], float]:
    """Suggestions and how much of the user's own data they rest on (0 to 1)."""
    target = next_meal(snapshot)
    remaining = snapshot.remaining_today
    candidates = [
        meal
        for meal in MEALS
        if allowed(
            meal,
            restrictions=snapshot.dietary_restrictions,
            allergies=snapshot.allergies,
        )
    ]
    if remaining["calories"] < NEARLY_DONE_KCAL:
        light = sorted(
            (meal for meal in candidates if meal.calories <= LIGHT_KCAL),
            key=lambda meal: meal.calories,
        )
        reason = (
            f"You have reached today's goal of {snapshot.goals.calories} kcal; if you are "
            "still hungry, choose something this light."
        )
        suggestions = [_suggestion(meal, 1.0, "snack", reason) for meal in light]
        return suggestions[:SUGGESTIONS], _confidence(snapshot)

    in_slot = [meal for meal in candidates if target.meal_type in meal.meal_types]
    portions = {meal.name: _portion(meal, target.calories) for meal in in_slot or candidates}
    best = sorted(
        in_slot or candidates,
        key=lambda meal: (_score(meal, portions[meal.name], target, snapshot), meal.name),
    )[:SUGGESTIONS]
    suggestions = [
        _suggestion(
            meal,
            portions[meal.name],
            target.meal_type,
            _reason(meal, portions[meal.name], target, remaining),
        )
        for meal in best
    ]
    return suggestions, _confidence(snapshot)


def _portion(meal: Meal, calories: float) -> float:
    return min(PORTIONS, key=lambda portion: (abs(meal.calories * portion - calories), portion))


def _score(meal: Meal, portion: float, target: MealTarget, snapshot: Snapshot) -> float:
    remaining = snapshot.remaining_today
    calories = meal.calories * portion
    miss = abs(calories - target.calories) / max(target.calories, 1.0)
    short = (
        max(0.0, target.protein - meal.protein * portion) / target.protein
        if target.protein > 0
        else 0.0
    )
    overshoot = sum(
        max(0.0, getattr(meal, name) * portion - max(remaining[name], 0.0))
        / max(getattr(snapshot.goals, name), 1.0)
        for name in ("carbs", "fat")
    )
    return round(miss + _PROTEIN_WEIGHT * short + _OVERSHOOT_WEIGHT * overshoot, 6)


def _reason(meal: Meal, portion: float, target: MealTarget, remaining: dict[str, float]) -> str:
    calories = round(meal.calories * portion)
    protein = round(meal.protein * portion)
    return (
        f"About {calories} kcal and {protein} g protein for {target.meal_type}: you have "
        f"{round(remaining['calories'])} kcal and {max(0, round(remaining['protein']))} g "
        "protein left of today's goals."
    )


def _suggestion(meal: Meal, portion: float, meal_type: str, reason: str) -> MealSuggestion:
    return MealSuggestion(
        name=meal.name,
        meal_type=meal_type,
        portion=meal.serving if portion == 1 else f"{portion:g} x {meal.serving}",
        calories=round(meal.calories * portion),
        protein=round(meal.protein * portion, 1),
        carbs=round(meal.carbs * portion, 1),
        fat=round(meal.fat * portion, 1),
        reason=reason,
    )


def _confidence(snapshot: Snapshot) -> float:
    """0.3, plus 0.3 when the goals are the user's own (preferences or profile) rather than
    defaults, plus up to 0.3 for how many of the last 7 days have food logged."""
    days_logged = sum(1 for day in snapshot.food_days if day["logs"])
    own_goals = snapshot.goals.source != "default"
    return round(0.3 + (0.3 if own_goals else 0.0) + 0.3 * days_logged / len(snapshot.food_days), 2)
