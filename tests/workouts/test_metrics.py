"""Calorie estimates (MET), Epley one-rep maxima and training volume."""

from decimal import Decimal

import pytest

from workouts.metrics import (
    DEFAULT_BODY_WEIGHT_KG,
    LoggedSet,
    epley_one_rep_max,
    estimate_calories,
    exercise_metrics,
    normalize_exercise_name,
)


@pytest.mark.parametrize(
    ("workout_type", "minutes", "weight", "expected"),
    [
        ("strength", 60, Decimal("80"), 280),  # 3.5 x 80 x 1
        ("cardio", 30, Decimal("80"), 280),  # 7.0 x 80 x 0.5
        ("hiit", 20, Decimal("60"), 160),  # 8.0 x 60 x 1/3
        ("flexibility", 60, Decimal("55.5"), 139),  # 2.5 x 55.5 = 138.75
        ("sports", 90, Decimal("90"), 878),  # 6.5 x 90 x 1.5 = 877.5, half up
        ("other", 45, Decimal("100"), 263),  # 3.5 x 100 x 0.75 = 262.5
        ("cardio", 0, Decimal("80"), 0),
    ],
)
def test_estimate_calories_is_met_times_weight_times_hours(workout_type, minutes, weight, expected):
    estimate = estimate_calories(
        workout_type=workout_type, duration_minutes=minutes, body_weight_kg=weight
    )

    assert estimate.calories == expected
    assert estimate.body_weight_assumed is False


def test_estimate_calories_uses_default_weight_when_unknown():
    estimate = estimate_calories(workout_type="cardio", duration_minutes=30, body_weight_kg=None)

    assert Decimal("70") == DEFAULT_BODY_WEIGHT_KG
    assert estimate.calories == 245  # 7.0 x 70 x 0.5
    assert estimate.basis() == {
        "method": "met",
        "met": 7.0,
        "body_weight_kg": 70.0,
        "body_weight_assumed": True,
    }


@pytest.mark.parametrize(
    ("weight", "reps", "expected"),
    [
        ("100", 5, "116.6667"),
        ("100", 1, "100.0000"),
        ("90", 8, "114.0000"),
        ("100", 0, None),
        ("0", 10, None),
    ],
)
def test_epley_one_rep_max(weight, reps, expected):
    result = epley_one_rep_max(Decimal(weight), reps)

    assert result == (Decimal(expected) if expected else None)


def test_exercise_metrics_from_summary_sets():
    metrics = exercise_metrics(sets=3, reps=5, weight_kg=Decimal("100"), set_logs=[])

    assert metrics.volume_kg == Decimal("1500")
    assert metrics.top_weight_kg == Decimal("100")
    assert metrics.best_one_rep_max_kg == Decimal("116.6667")


def test_exercise_metrics_prefer_logged_sets_and_fall_back_to_exercise_weight():
    metrics = exercise_metrics(
        sets=3,
        reps=5,
        weight_kg=Decimal("60"),
        set_logs=[
            LoggedSet(reps=5, weight_kg=None),  # at the exercise's 60 kg
            LoggedSet(reps=2, weight_kg=Decimal("80")),
            LoggedSet(reps=0, weight_kg=Decimal("100")),  # a missed lift
        ],
    )

    assert metrics.volume_kg == Decimal("460")  # 5 x 60 + 2 x 80
    assert metrics.top_weight_kg == Decimal("80")
    assert metrics.best_one_rep_max_kg == Decimal("85.3333")  # 80 x (1 + 2/30)


def test_exercise_metrics_without_weight_have_no_records():
    metrics = exercise_metrics(sets=3, reps=10, weight_kg=None, set_logs=[])

    assert metrics.volume_kg == 0
    assert metrics.top_weight_kg is None
    assert metrics.best_one_rep_max_kg is None


def test_normalize_exercise_name_folds_case_and_spaces():
    assert normalize_exercise_name("  Bench   PRESS ") == normalize_exercise_name("bench press")
