"""GET /api/v1/ai/recommendations/{food,workout}: rules without a model, Gemini with one."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ai_assistant.models import AIUsage
from ai_assistant.personal_context import build_snapshot
from ai_assistant.recommendations.catalogue import MEALS
from ai_assistant.recommendations.food_rules import suggest_meals
from ai_assistant.recommendations.schemas import MealSuggestions, WorkoutSuggestions
from ai_assistant.recommendations.workout_rules import suggest_workouts
from tests.ai_assistant.coach import system_instruction
from tests.factories import UserFactory
from tests.food.factories import FoodLogFactory
from tests.workouts.factories import create_workout, exercise_payload

pytestmark = pytest.mark.django_db

FOOD = "/api/v1/ai/recommendations/food"
WORKOUT = "/api/v1/ai/recommendations/workout"
GOALS = {"calories": 2000, "protein": 100, "carbs": 250, "fat": 70}
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CATALOGUE = {meal.name: meal for meal in MEALS}


@pytest.fixture
def eater(db):
    return UserFactory(preferences={"daily_goals": GOALS})


def meals_at(user, now):
    return suggest_meals(build_snapshot(user, now=now))


def workouts_for(user):
    return suggest_workouts(build_snapshot(user))


def meal_answer(**overrides):
    suggestion = {
        "name": "Chicken salad",
        "meal_type": "lunch",
        "portion": "1 bowl",
        "calories": 650,
        "protein": 45,
        "carbs": 40,
        "fat": 25,
        "reason": "Fits the 1500 kcal you have left.",
    }
    return {"suggestions": [{**suggestion, **overrides}], "confidence": 0.8}


def workout_answer(name="Upper body"):
    return {
        "suggestions": [
            {
                "name": name,
                "type": "strength",
                "intensity": "moderate",
                "duration_minutes": 45,
                "focus": ["push"],
                "exercises": [
                    {
                        "name": "Bench press",
                        "sets": 3,
                        "reps": 5,
                        "seconds": None,
                        "weight": {"value": 102.5, "unit": "kg"},
                    }
                ],
                "reason": "Progress on your 100 kg bench.",
            }
        ],
        "confidence": 0.7,
    }


# --- rules: food -----------------------------------------------------------------------------


def test_food_rules_size_next_meal_to_what_is_left(eater):
    FoodLogFactory(owner=eater, meal_type="breakfast", calories=500, timestamp=NOON.replace(hour=8))

    suggestions, confidence = meals_at(eater, NOON)

    # 1500 kcal left; lunch has 0.35 of the 0.75 still to come today: about 700 kcal.
    assert len(suggestions) == 3
    assert all(suggestion.meal_type == "lunch" for suggestion in suggestions)
    assert all(abs(suggestion.calories - 700) <= 150 for suggestion in suggestions)
    assert all("1500 kcal" in suggestion.reason for suggestion in suggestions)
    assert len({suggestion.name for suggestion in suggestions}) == 3
    assert 0 < confidence <= 1


def test_food_rules_scale_portions_from_catalogue(eater):
    suggestions, _ = meals_at(eater, NOON)

    for suggestion in suggestions:
        meal = CATALOGUE[suggestion.name]
        portion = suggestion.calories / meal.calories
        assert portion in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
        assert suggestion.protein == round(meal.protein * portion, 1)


def test_food_rules_move_on_when_meal_already_logged(eater):
    FoodLogFactory(owner=eater, meal_type="lunch", calories=600, timestamp=NOON.replace(hour=11))

    suggestions, _ = meals_at(eater, NOON.replace(hour=12, minute=30))

    assert {suggestion.meal_type for suggestion in suggestions} == {"snack"}


def test_food_rules_suggest_modest_snack_late_at_night(eater):
    suggestions, _ = meals_at(eater, NOON.replace(hour=22))

    # 2000 kcal are left, but a snack brings at most 1.5 x its 10 % share: 300 kcal.
    assert {suggestion.meal_type for suggestion in suggestions} == {"snack"}
    assert all(suggestion.calories <= 360 for suggestion in suggestions)
    assert max(suggestion.calories for suggestion in suggestions) >= 200


def test_food_rules_respect_diet_and_allergies(eater):
    eater.preferences = {
        **eater.preferences,
        "dietary_restrictions": ["vegan"],
        "allergies": ["soy"],
    }
    eater.save()

    for hour in (8, 12, 16, 19):
        suggestions, _ = meals_at(eater, NOON.replace(hour=hour))
        assert suggestions
        for suggestion in suggestions:
            meal = CATALOGUE[suggestion.name]
            assert meal.diet == "vegan"
            assert "soy" not in meal.allergens


def test_food_rules_rule_out_unknown_allergy_by_name(eater):
    eater.preferences = {**eater.preferences, "allergies": ["salmon"]}
    eater.save()

    suggestions, _ = meals_at(eater, NOON.replace(hour=19))

    assert all("salmon" not in suggestion.name.lower() for suggestion in suggestions)


def test_food_rules_suggest_something_light_when_goal_reached(eater):
    FoodLogFactory(owner=eater, calories=1950, timestamp=NOON.replace(hour=9))

    suggestions, _ = meals_at(eater, NOON.replace(hour=19))

    assert suggestions
    assert all(suggestion.calories <= 60 for suggestion in suggestions)
    assert "reached today's goal of 2000 kcal" in suggestions[0].reason


def test_food_rules_more_confident_with_own_goals_and_logs(db):
    newcomer = UserFactory()
    regular = UserFactory(preferences={"daily_goals": GOALS})
    for days_ago in range(7):
        FoodLogFactory(owner=regular, timestamp=NOON - timedelta(days=days_ago, hours=2))

    assert meals_at(newcomer, NOON)[1] == 0.3
    assert meals_at(regular, NOON)[1] == 0.9


# --- rules: workouts -------------------------------------------------------------------------


def days_ago(days, hours=0):
    return (timezone.now() - timedelta(days=days, hours=hours)).isoformat()


def lift(name, kg=None):
    weight = {"weight": {"value": kg, "unit": "kg"}} if kg else {}
    return exercise_payload(name, sets=3, reps=5, **weight)


def test_workout_rules_rest_after_hard_day(db):
    user = UserFactory()
    create_workout(user, type="hiit", duration=30, exercises=[], created_at=days_ago(1))

    suggestions, _ = workouts_for(user)

    first = suggestions[0]
    assert first.name == "Active recovery"
    assert (first.type, first.intensity) == ("flexibility", "easy")
    assert first.reason.startswith("Yesterday's 30-minute HIIT workout was hard")
    # The recovery session is the week's mobility work; strength and cardio follow.
    assert sorted(suggestion.type for suggestion in suggestions[1:]) == ["cardio", "strength"]


def test_workout_rules_no_rest_day_when_hard_day_is_older(db):
    user = UserFactory()
    create_workout(user, type="hiit", duration=30, exercises=[], created_at=days_ago(3))

    suggestions, _ = workouts_for(user)

    assert "Active recovery" not in [suggestion.name for suggestion in suggestions]


def test_workout_rules_long_session_counts_as_hard(db):
    user = UserFactory()
    create_workout(user, type="cardio", duration=75, exercises=[], created_at=days_ago(0))

    assert workouts_for(user)[0][0].reason.startswith("Today's 75-minute cardio workout")


def test_workout_rules_balance_types_of_the_week(db):
    user = UserFactory()
    for day in (1, 3, 5):
        create_workout(user, duration=40, exercises=[lift("Squat")], created_at=days_ago(day))

    suggestions, _ = workouts_for(user)

    assert [suggestion.type for suggestion in suggestions] == ["cardio", "flexibility", "strength"]


def test_workout_rules_follow_the_fitness_goal(db):
    user = UserFactory(fitness_goal="gain_muscle")

    suggestions, _ = workouts_for(user)

    assert suggestions[0].type == "strength"
    # Nothing trained yet: legs come first, with beginner lifts and no weights.
    assert suggestions[0].focus == ["legs"]
    assert all(exercise.weight is None for exercise in suggestions[0].exercises)


def test_workout_rules_work_least_recently_trained_muscle_group(db):
    user = UserFactory(fitness_goal="gain_muscle")
    create_workout(user, duration=40, exercises=[lift("Plank")], created_at=days_ago(1))
    create_workout(user, duration=40, exercises=[lift("Back squat")], created_at=days_ago(2))
    create_workout(user, duration=40, exercises=[lift("Bench press")], created_at=days_ago(3))
    create_workout(user, duration=40, exercises=[lift("Barbell row")], created_at=days_ago(5))

    strength = next(s for s in workouts_for(user)[0] if s.type == "strength")

    assert strength.focus == ["pull"]
    assert strength.reason.startswith("Your pull muscles were trained least recently (5 days ago)")


def _trained_all_but_push(user):
    for day, name in ((1, "Plank"), (2, "Back squat"), (3, "Barbell row")):
        create_workout(user, duration=40, exercises=[lift(name)], created_at=days_ago(day))


def test_workout_rules_progress_from_recent_record(db):
    user = UserFactory(fitness_goal="gain_muscle")
    _trained_all_but_push(user)
    create_workout(user, duration=40, exercises=[lift("Bench press", 100)], created_at=days_ago(4))

    strength = next(s for s in workouts_for(user)[0] if s.type == "strength")

    assert strength.focus == ["push"]
    bench = strength.exercises[0]
    assert bench.name == "Bench press"
    assert (bench.sets, bench.reps) == (3, 5)
    assert bench.weight.model_dump() == {"value": 102.5, "unit": "kg"}
    assert "your best Bench press is 100 kg" in strength.reason
    assert "try 102.5 kg" in strength.reason


def test_workout_rules_progress_in_pounds_for_imperial_users(db):
    user = UserFactory(fitness_goal="gain_muscle", measurement_system="imperial")
    _trained_all_but_push(user)
    create_workout(user, duration=40, exercises=[lift("Bench press", 100)], created_at=days_ago(4))

    strength = next(s for s in workouts_for(user)[0] if s.type == "strength")

    # 100 kg is 220.5 lb; 2.5 % more is 226 lb, to a 5 lb step.
    assert strength.exercises[0].weight.model_dump() == {"value": 225.0, "unit": "lb"}


def test_workout_rules_work_back_up_to_old_record(db):
    user = UserFactory(fitness_goal="gain_muscle")
    _trained_all_but_push(user)
    create_workout(user, duration=40, exercises=[lift("Bench press", 100)], created_at=days_ago(40))

    strength = next(s for s in workouts_for(user)[0] if s.type == "strength")

    assert strength.exercises[0].weight.model_dump() == {"value": 100.0, "unit": "kg"}
    assert "work back up to your best Bench press of 100 kg" in strength.reason


def test_workout_rules_cardio_builds_on_recent_sessions(db):
    user = UserFactory(fitness_goal="improve_endurance")
    create_workout(user, type="cardio", duration=30, exercises=[], created_at=days_ago(2))
    create_workout(user, type="cardio", duration=40, exercises=[], created_at=days_ago(4))

    cardio = next(s for s in workouts_for(user)[0] if s.type == "cardio")

    # 10 % more than the 35-minute average, in 5-minute steps.
    assert cardio.duration_minutes == 40
    assert "(35 min)" in cardio.reason


def test_workout_rules_more_confident_with_history(db):
    newcomer = UserFactory()
    regular = UserFactory()
    for day in range(4):
        create_workout(regular, duration=30, created_at=days_ago(day + 1))

    assert workouts_for(newcomer)[1] == 0.3
    assert workouts_for(regular)[1] == 0.9


# --- the endpoints without a model -----------------------------------------------------------


@pytest.mark.parametrize("url", [FOOD, WORKOUT])
def test_recommendations_answer_from_rules_without_ai(auth_client, url):
    response = auth_client.get(url)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "confidence", "processing_time", "source"}
    assert body["source"] == "rules"
    assert len(body["data"]) == 3
    assert all(item["reason"] for item in body["data"])
    assert AIUsage.objects.count() == 0


@pytest.mark.parametrize("url", [FOOD, WORKOUT])
def test_recommendations_require_authentication(api_client, url):
    assert api_client.get(url).status_code == 401


# --- with Gemini -----------------------------------------------------------------------------


def test_food_recommendations_from_gemini_structured_output(auth_client, user, gemini):
    user.preferences = {"daily_goals": GOALS, "dietary_restrictions": ["vegetarian"]}
    user.save()
    FoodLogFactory(owner=user, calories=543, timestamp=timezone.now())
    gemini.reply_json(meal_answer())

    response = auth_client.get(FOOD)

    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "gemini"
    assert body["confidence"] == 0.8
    assert body["data"] == meal_answer()["suggestions"]
    [sent] = gemini.requests
    assert sent.action == "generateContent"
    assert sent.generation_config["responseMimeType"] == "application/json"
    assert sent.generation_config["responseJsonSchema"] == MealSuggestions.model_json_schema()
    facts = _facts(system_instruction(sent))
    assert facts["today_food"]["eaten"]["calories"] == 543
    assert facts["today_food"]["remaining"]["calories"] == 2000 - 543
    assert facts["profile"]["dietary_restrictions"] == ["vegetarian"]
    assert AIUsage.objects.get().endpoint == "recommendations.food"


def test_workout_recommendations_from_gemini_structured_output(auth_client, user, gemini):
    create_workout(user, exercises=[lift("Bench press", 100)], created_at=days_ago(1))
    gemini.reply_json(workout_answer())

    body = auth_client.get(WORKOUT).json()

    assert body["source"] == "gemini"
    assert body["data"] == workout_answer()["suggestions"]
    [sent] = gemini.requests
    assert sent.generation_config["responseJsonSchema"] == WorkoutSuggestions.model_json_schema()
    facts = _facts(system_instruction(sent))
    assert facts["personal_records"][0] == {
        "exercise": "Bench press",
        "heaviest_kg": 100,
        "best_1rm_kg": 116.7,
        "date": facts["personal_records"][0]["date"],
    }


def test_recommendations_cached_for_the_day(auth_client, gemini):
    gemini.reply_json(meal_answer())

    first = auth_client.get(FOOD).json()
    again = auth_client.get(FOOD).json()

    assert again["source"] == "cache"
    assert again["data"] == first["data"]
    assert again["confidence"] == first["confidence"]
    assert len(gemini.requests) == 1


def test_recommendations_cache_is_per_user_and_kind(auth_client, other_client, gemini):
    gemini.reply_json(meal_answer())
    gemini.reply_json(meal_answer(name="Theirs"))
    gemini.reply_json(workout_answer())

    auth_client.get(FOOD)
    theirs = other_client.get(FOOD).json()
    workouts = auth_client.get(WORKOUT).json()

    assert (theirs["source"], theirs["data"][0]["name"]) == ("gemini", "Theirs")
    assert workouts["source"] == "gemini"
    assert len(gemini.requests) == 3


@pytest.mark.parametrize(
    "change",
    [
        lambda user: FoodLogFactory(owner=user, calories=100),
        lambda user: create_workout(user),
        lambda user: FoodLogFactory._meta.model.objects.filter(owner=user).update(
            deleted_at=timezone.now()
        ),
        lambda user: user.save(),
    ],
    ids=["new_food_log", "new_workout", "deleted_food_log", "profile_changed"],
)
def test_recommendations_cache_invalidated_when_data_changes(auth_client, user, gemini, change):
    FoodLogFactory(owner=user, calories=300)
    gemini.reply_json(meal_answer())
    gemini.reply_json(meal_answer(name="After the change"))
    auth_client.get(FOOD)

    change(user)
    body = auth_client.get(FOOD).json()

    assert body["source"] == "gemini"
    assert body["data"][0]["name"] == "After the change"
    assert len(gemini.requests) == 2


def test_recommendations_cache_invalidated_by_food_logged_through_api(auth_client, gemini):
    gemini.reply_json(meal_answer())
    gemini.reply_json(meal_answer(name="After lunch"))
    auth_client.get(FOOD)

    logged = auth_client.post("/api/v1/food/logs", {"name": "Soup", "calories": 300}, format="json")
    body = auth_client.get(FOOD).json()

    assert logged.status_code == 201
    assert body["data"][0]["name"] == "After lunch"


def test_recommendations_fall_back_to_rules_when_gemini_fails(auth_client, gemini):
    gemini.error(400, "INVALID_ARGUMENT", "Bad request.")

    first = auth_client.get(FOOD)
    again = auth_client.get(FOOD)

    assert first.status_code == 200
    assert first.json()["source"] == "rules"
    assert len(first.json()["data"]) == 3
    # The outage is not asked again straight away.
    assert again.json()["source"] == "rules"
    assert again.json()["data"] == first.json()["data"]
    assert len(gemini.requests) == 1
    assert AIUsage.objects.get().outcome == "generation_error"


def test_recommendations_fall_back_to_rules_when_answer_off_schema(auth_client, gemini):
    gemini.reply_json({"suggestions": [{"name": "Cake"}], "confidence": 0.9})

    body = auth_client.get(WORKOUT).json()

    assert body["source"] == "rules"
    assert body["data"][0]["name"] != "Cake"


def test_recommendations_fall_back_to_rules_when_allowance_used(
    auth_client, user, gemini, settings
):
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RATE_LIMITS": {**settings.AI_SERVICE["RATE_LIMITS"], "recommendations": "1/hour"},
    }
    gemini.reply_json(meal_answer())

    assert auth_client.get(FOOD).json()["source"] == "gemini"
    FoodLogFactory(owner=user)
    body = auth_client.get(FOOD).json()

    assert body["source"] == "rules"
    assert len(gemini.requests) == 1


def test_recommendations_never_send_another_users_data(auth_client, user, other_user, gemini):
    marker = "OKAPI-5519"
    FoodLogFactory(owner=other_user, name=marker, calories=1234)
    create_workout(other_user, name=marker, notes=marker)
    other_user.preferences = {"allergies": [marker]}
    other_user.save()
    FoodLogFactory(owner=user, name="Toast", calories=Decimal(250))
    gemini.reply_json(meal_answer())
    gemini.reply_json(workout_answer())

    auth_client.get(FOOD)
    auth_client.get(WORKOUT)

    for sent in gemini.requests:
        assert marker not in json.dumps(sent.body)
        assert "Toast" in sent.text


def _facts(instruction: str) -> dict:
    start = instruction.index("<user_facts>\n") + len("<user_facts>\n")
    return json.loads(instruction[start : instruction.index("\n</user_facts>")])
