"""Hostile or extreme input answers 4xx in the envelope, never a 500, and stores nothing."""

import logging

import pytest

from accounts.models import User
from food.models import FoodLog
from tests.asserts import assert_error
from workouts.models import Workout

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("unit", [[], {}, None, 3])
def test_profile_measurement_with_non_string_unit_is_400(auth_client, user, unit):
    response = auth_client.put(
        "/api/v1/users/profile", {"weight": {"value": 70, "unit": unit}}, format="json"
    )
    assert "weight" in assert_error(response, 400, "validation_error")["details"]["fields"]


def test_workout_weight_with_non_string_unit_is_400(auth_client):
    response = auth_client.post(
        "/api/v1/workouts",
        {
            "name": "x",
            "type": "strength",
            "exercises": [{"name": "b", "weight": {"value": 1, "unit": {}}}],
        },
        format="json",
    )
    assert_error(response, 400, "validation_error")
    assert not Workout.objects.exists()


def test_measurement_that_rounds_to_zero_is_400(auth_client, user):
    response = auth_client.put(
        "/api/v1/users/profile", {"weight": {"value": 1, "unit": "g"}}, format="json"
    )
    assert "weight" in assert_error(response, 400, "validation_error")["details"]["fields"]
    user.refresh_from_db()
    assert user.weight_kg is None


def test_largest_valid_workout_volume_is_stored(auth_client):
    exercise = {"name": "b", "sets": 50, "reps": 1000, "weight": {"value": 1000, "unit": "kg"}}
    response = auth_client.post(
        "/api/v1/workouts",
        {"name": "x", "type": "strength", "exercises": [exercise] * 3},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Workout.objects.get().volume_kg == 150_000_000


def test_deeply_nested_json_is_400(auth_client, user):
    body = "[" * 100_000 + "]" * 100_000
    response = auth_client.post("/api/v1/users/preferences", body, content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_nul_character_in_free_form_json_is_400(auth_client):
    response = auth_client.post(
        "/api/v1/food/logs",
        {"name": "a", "calories": 1, "protein": 0, "carbs": 0, "fat": 0, "metadata": {"k": "a\0"}},
        format="json",
    )
    assert_error(response, 400, "malformed_request")
    assert not FoodLog.objects.exists()


def test_nul_character_in_chat_context_is_400(auth_client):
    response = auth_client.post(
        "/api/v1/ai/chat/start", {"context": {"screen": "a\0b"}}, format="json"
    )
    assert_error(response, 400, "malformed_request")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/food/logs?to=9999-12-31",
        "/api/v1/food/logs?from=0001-01-01T00:00:00%2B05:00",
        "/api/v1/workouts?to=9999-12-31",
        "/api/v1/workouts?from=0001-01-01T00:00:00%2B05:00",
        "/api/v1/workouts/stats?to=9999-12-31",
        "/api/v1/food/stats?to=0001-01-02",
        "/api/v1/food/stats?from=0001-01-01&to=0001-01-02&tz=Asia/Tokyo",
    ],
)
def test_dates_outside_supported_years_are_400(auth_client, url):
    assert_error(auth_client.get(url), 400, "validation_error")


def test_food_stats_with_a_zero_goal_answer_null_progress(auth_client, user):
    user.weight_kg = 150
    user.fitness_goal = "gain_muscle"
    user.preferences = {"daily_goals": {"calories": 1200}}
    user.save()
    response = auth_client.get("/api/v1/food/stats")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["goals"]["carbs"] == 0
    assert body["progress"]["carbs"] is None


def test_preferences_goal_below_one_is_ignored(auth_client, user):
    auth_client.post("/api/v1/users/preferences", {"daily_goals": {"protein": 0.01}}, format="json")
    response = auth_client.get("/api/v1/food/stats")
    assert response.status_code == 200
    assert response.json()["goals"]["protein"] > 1


def test_preferences_are_bounded_as_a_whole(auth_client, user):
    for n in range(2):
        ok = auth_client.post("/api/v1/users/preferences", {f"k{n}": "x" * 7000}, format="json")
        assert ok.status_code == 200
    response = auth_client.post("/api/v1/users/preferences", {"k2": "x" * 7000}, format="json")
    assert_error(response, 400, "validation_error")
    assert set(User.objects.get(pk=user.pk).preferences) == {"k0", "k1"}


def test_language_longer_than_its_column_is_400(auth_client, user):
    response = auth_client.patch(
        "/api/v1/users/settings", {"language": "en-" + "-".join(["abcdefgh"] * 3)}, format="json"
    )
    assert len("en-" + "-".join(["abcdefgh"] * 3)) > 16
    error = assert_error(response, 400, "validation_error")
    assert "language" in error["details"]["fields"]
    assert User.objects.get(pk=user.pk).language == "en"


@pytest.mark.parametrize("field", ["height", "weight", "target_weight"])
@pytest.mark.parametrize("value", ["1e300", "-1e300", "1.7976931348623157e308", "1" + "0" * 40])
def test_profile_measurement_too_large_for_a_decimal_is_400(auth_client, user, field, value):
    unit = "cm" if field == "height" else "g"
    body = f'{{"{field}": {{"value": {value}, "unit": "{unit}"}}}}'
    response = auth_client.put("/api/v1/users/profile", body, content_type="application/json")
    error = assert_error(response, 400, "validation_error")
    assert field in error["details"]["fields"]
    user.refresh_from_db()
    assert (user.height_cm, user.weight_kg, user.target_weight_kg) == (None, None, None)


@pytest.mark.parametrize(
    "exercise",
    [
        '{"name": "b", "weight": {"value": 1e300, "unit": "lb"}}',
        '{"name": "b", "weight": {"value": -1e300, "unit": "g"}}',
        '{"name": "b", "set_logs": [{"reps": 1, "weight": {"value": 1e300, "unit": "kg"}}]}',
        '{"name": "b", "distance": 1e300}',
    ],
)
def test_workout_numbers_too_large_for_a_decimal_are_400(auth_client, exercise):
    body = f'{{"name": "x", "type": "strength", "exercises": [{exercise}]}}'
    response = auth_client.post("/api/v1/workouts", body, content_type="application/json")
    assert_error(response, 400, "validation_error")
    assert not Workout.objects.exists()


@pytest.mark.parametrize("field", ["protein", "carbs", "fat", "fiber", "sugar"])
@pytest.mark.parametrize("value", ["1e300", "-1e300"])
def test_food_numbers_too_large_for_a_decimal_are_400(auth_client, field, value):
    body = f'{{"name": "a", "calories": 1, "{field}": {value}}}'
    response = auth_client.post("/api/v1/food/logs", body, content_type="application/json")
    assert_error(response, 400, "validation_error")
    assert not FoodLog.objects.exists()


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/users/preferences", '{"x": 1e400}'),
        ("/api/v1/users/preferences", '{"x": [-1e999]}'),
        ("/api/v1/users/profile", '{"weight": {"value": 1e400, "unit": "kg"}}'),
        ("/api/v1/food/logs", '{"name": "a", "calories": 1, "metadata": {"n": 1e400}}'),
        ("/api/v1/food/logs", '{"name": "a", "calories": 1e400}'),
    ],
)
def test_json_number_beyond_a_float_is_400(auth_client, user, url, body):
    method = auth_client.put if url.endswith("profile") else auth_client.post
    response = method(url, body, content_type="application/json")
    assert_error(response, 400, "malformed_request")
    user.refresh_from_db()
    assert user.preferences == {} and user.weight_kg is None
    assert not FoodLog.objects.exists()


def test_exercise_name_that_casefolds_longer_is_stored(auth_client):
    # "ß" casefolds to "ss": the key personal records group by is twice the name's length.
    body = {"name": "x", "type": "strength", "exercises": [{"name": "ß" * 255}]}
    response = auth_client.post("/api/v1/workouts", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["workout"]["exercises"][0]["name"] == "ß" * 255


def test_email_that_lowercases_past_its_column_is_400(api_client):
    # Valid as typed (254 characters), but "İ" lowercases to two characters.
    email = "a@" + ".".join(["İ" * 60] * 4) + ".com"
    assert len(email) <= 254 < len(email.lower())
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": email, "password": "correct-horse-battery-staple", "name": "A"},
        format="json",
    )
    assert "email" in assert_error(response, 400, "validation_error")["details"]["fields"]
    assert not User.objects.exists()


def test_host_not_allowed_is_400_in_the_envelope_with_one_warning(auth_client, caplog):
    caplog.set_level(logging.INFO)
    response = auth_client.get("/api/v1/auth/me", HTTP_HOST="evil.example")
    assert_error(response, 400, "bad_request")
    assert response["Content-Type"] == "application/json"
    assert response["X-Request-ID"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    warnings = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "evil.example" in warnings[0].getMessage()


def test_host_not_allowed_outside_the_api_is_a_plain_400(client, caplog):
    response = client.get("/admin/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
