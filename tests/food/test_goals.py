from datetime import date
from decimal import Decimal

import pytest

from accounts.models import User
from food.goals import MIN_CALORIES, bmr, daily_goals

TODAY = date(2026, 11, 25)


def person(**fields) -> User:
    profile = {
        "weight_kg": Decimal("80"),
        "height_cm": Decimal("180"),
        "birthday": date(1996, 11, 26),  # turns 30 tomorrow: still 29 today
        "gender": "male",
        "fitness_goal": "",
        "preferences": {},
    }
    return User(email="goal@example.com", name="Goal", **{**profile, **fields})


def test_bmr_matches_mifflin_st_jeor():
    assert bmr(weight_kg=80, height_cm=180, age=30, gender="male") == 1780
    assert bmr(weight_kg=60, height_cm=165, age=40, gender="female") == 1270.25
    # Neither male nor female given: the midpoint of the two constants.
    assert bmr(weight_kg=70, height_cm=170, age=35, gender="") == 1509.5


def test_daily_goals_from_profile_use_light_activity_by_default():
    goals = daily_goals(person(), TODAY)

    rest = 10 * 80 + 6.25 * 180 - 5 * 29 + 5
    assert goals.source == "profile"
    assert goals.calories == round(rest * 1.375)
    assert goals.protein == 96.0  # 1.2 g/kg without a fitness goal
    assert goals.fat == round(goals.calories * 0.35 / 9, 1)
    assert goals.carbs == pytest.approx((goals.calories - 96 * 4 - goals.fat * 9) / 4, abs=0.2)


@pytest.mark.parametrize(
    ("level", "factor"),
    [("sedentary", 1.2), ("moderate", 1.55), ("very_active", 1.9), ("bogus", 1.375)],
)
def test_daily_goals_apply_activity_level_from_preferences(level, factor):
    goals = daily_goals(person(preferences={"activity_level": level}), TODAY)

    assert goals.calories == round((10 * 80 + 6.25 * 180 - 5 * 29 + 5) * factor)


@pytest.mark.parametrize(
    ("goal", "kcal_shift", "protein"),
    [("lose_weight", -500, 144.0), ("gain_muscle", 300, 160.0), ("improve_endurance", 0, 112.0)],
)
def test_daily_goals_adjust_for_fitness_goal(goal, kcal_shift, protein):
    baseline = daily_goals(person(), TODAY)

    goals = daily_goals(person(fitness_goal=goal), TODAY)

    assert goals.calories == pytest.approx(baseline.calories + kcal_shift, abs=1)
    assert goals.protein == protein


def test_daily_goals_never_go_below_the_floor():
    small = person(
        weight_kg=Decimal("45"),
        height_cm=Decimal("150"),
        birthday=date(1950, 1, 1),
        gender="female",
        fitness_goal="lose_weight",
        preferences={"activity_level": "sedentary"},
    )

    goals = daily_goals(small, TODAY)

    assert goals.source == "profile"
    assert goals.calories == MIN_CALORIES


def test_daily_goals_default_to_fda_daily_values_without_profile():
    goals = daily_goals(person(weight_kg=None, height_cm=None, birthday=None), TODAY)

    assert goals.source == "default"
    assert goals.as_dict() == {
        "calories": 2000,
        "protein": 50.0,
        "carbs": 275.0,
        "fat": 77.8,
        "fiber": 28.0,
        "sugar": 50.0,
    }


@pytest.mark.parametrize("missing", ["height_cm", "birthday"])
def test_daily_goals_default_calories_but_protein_by_weight_when_profile_incomplete(missing):
    goals = daily_goals(person(**{missing: None}), TODAY)

    assert goals.source == "default"
    assert goals.calories == 2000
    assert goals.protein == 96.0


def test_daily_goals_take_preferences_and_derive_the_rest_from_their_calories():
    user = person(preferences={"daily_goals": {"calories": 1800, "protein": 150}})

    goals = daily_goals(user, TODAY)

    assert goals.source == "preferences"
    assert goals.calories == 1800 and goals.protein == 150
    assert goals.fat == 70.0
    assert goals.carbs == pytest.approx((1800 - 600 - 70 * 9) / 4, abs=0.1)
    assert goals.fiber == 25.2


@pytest.mark.parametrize(
    "daily",
    [{"calories": -5}, {"calories": True}, {"calories": "2000"}, {"protein": 10**9}, "2000", []],
)
def test_daily_goals_ignore_invalid_preferences(daily):
    goals = daily_goals(person(preferences={"daily_goals": daily}), TODAY)

    assert goals.source == "profile"
