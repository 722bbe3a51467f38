import pytest

from accounts.models import User
from tests.asserts import assert_error

pytestmark = pytest.mark.django_db


def test_profile_returns_user_response(auth_client, user):
    response = auth_client.get("/api/v1/users/profile")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"profile", "settings", "stats", "preferences"}
    assert body["profile"]["id"] == str(user.id)
    assert body["settings"] == {
        "theme_mode": "dark",
        "notifications_enabled": True,
        "measurement_system": "metric",
        "language": "en",
        "timezone": "UTC",
        "privacy_settings": {},
    }
    assert body["stats"] == {
        "total_workouts": 0,
        "total_calories_burned": 0,
        "total_food_logs": 0,
        "streak_days": 0,
        "connections_count": 0,
        "achievements": [],
    }
    assert body["profile"]["invite_code"] == user.invite_code


def test_update_profile_converts_units_and_ignores_nothing_silently(auth_client, user):
    response = auth_client.put(
        "/api/v1/users/profile",
        {
            "name": "Ada",
            "height": {"value": 70, "unit": "in"},
            "weight": {"value": 154.3, "unit": "lb"},
            "fitness_goal": "lose_weight",
            "birthday": "1990-05-01",
        },
        format="json",
    )
    assert response.status_code == 200
    profile = response.json()["profile"]
    assert profile["height"] == {"value": 177.8, "unit": "cm"}
    assert profile["weight"] == {"value": 69.99, "unit": "kg"}
    user.refresh_from_db()
    assert float(user.height_cm) == 177.8
    assert user.fitness_goal == "lose_weight"


def test_profile_renders_imperial_for_imperial_users(auth_client, user):
    user.measurement_system = "imperial"
    user.weight_kg = 100
    user.save()
    profile = auth_client.get("/api/v1/users/profile").json()["profile"]
    assert profile["weight"] == {"value": 220.46, "unit": "lb"}


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"weight": {"value": 70, "unit": "stone"}}, "weight"),
        ({"weight": {"value": -3, "unit": "kg"}}, "weight"),
        ({"height": {"value": "tall", "unit": "cm"}}, "height"),
        ({"height": 180}, "height"),
        ({"gender": "robot"}, "gender"),
        ({"email": "new@example.com"}, "email"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
        ({"birthday": "2999-01-01"}, "birthday"),
    ],
)
def test_update_profile_rejects_bad_input_and_changes_nothing(auth_client, user, payload, field):
    before = User.objects.values().get(pk=user.pk)
    response = auth_client.put("/api/v1/users/profile", payload, format="json")
    assert field in assert_error(response, 400, "validation_error")["details"]["fields"]
    assert User.objects.values().get(pk=user.pk) == before


def test_patch_settings_updates_only_given_fields(auth_client, user):
    response = auth_client.patch(
        "/api/v1/users/settings",
        {"theme_mode": "light", "privacy_settings": {"share_workouts": False}},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["theme_mode"] == "light"
    assert body["measurement_system"] == "metric"
    assert body["privacy_settings"] == {"share_workouts": False}


@pytest.mark.parametrize(
    "payload",
    [
        {"theme_mode": "neon"},
        {"measurement_system": "cubits"},
        {"timezone": "Mars/Olympus"},
        {"privacy_settings": {"x": "maybe"}},
        {"favourite_colour": "blue"},
    ],
)
def test_patch_settings_rejects_unknown_values(auth_client, user, payload):
    response = auth_client.patch("/api/v1/users/settings", payload, format="json")
    assert_error(response, 400, "validation_error")
    user.refresh_from_db()
    assert user.theme_mode == "dark"
    assert user.timezone == "UTC"


def test_preferences_merge_and_null_removes(auth_client, user):
    user.preferences = {"units": {"water": "ml"}, "diet": "vegan"}
    user.save()
    response = auth_client.post(
        "/api/v1/users/preferences",
        {"units": {"energy": "kcal"}, "diet": None, "daily_goals": {"calories": 2000}},
        format="json",
    )
    assert response.status_code == 200
    expected = {"units": {"water": "ml", "energy": "kcal"}, "daily_goals": {"calories": 2000}}
    assert response.json() == expected
    user.refresh_from_db()
    assert user.preferences == expected


@pytest.mark.parametrize(
    "body",
    [
        {"allergies": {"nuts": True}},
        {"allergies": ["nuts", 3]},
        {"dietary_restrictions": "vegan"},
        {"daily_goals": [2000]},
        {"daily_goals": {"calories": "2000"}},
        {"daily_goals": {"protein": True}},
    ],
)
def test_preferences_the_server_reads_must_have_their_documented_shape(auth_client, user, body):
    user.preferences = {"allergies": ["nuts"]}
    user.save()

    response = auth_client.post("/api/v1/users/preferences", body, format="json")

    assert_error(response, 400, "validation_error")
    user.refresh_from_db()
    assert user.preferences == {"allergies": ["nuts"]}


def test_preferences_rejects_non_object(auth_client, user):
    response = auth_client.post("/api/v1/users/preferences", [1, 2], format="json")
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.preferences == {}


def test_stats_endpoint_shape(auth_client):
    response = auth_client.get("/api/v1/users/stats")
    assert response.status_code == 200
    assert set(response.json()) == {
        "total_workouts",
        "total_calories_burned",
        "total_food_logs",
        "streak_days",
        "connections_count",
        "achievements",
    }


def test_users_endpoints_require_auth(api_client):
    for method, path in [
        ("get", "/api/v1/users/profile"),
        ("put", "/api/v1/users/profile"),
        ("patch", "/api/v1/users/settings"),
        ("get", "/api/v1/users/stats"),
        ("post", "/api/v1/users/preferences"),
    ]:
        response = getattr(api_client, method)(path, {}, format="json")
        assert_error(response, 401, "not_authenticated")


def test_user_model_email_is_case_insensitive_unique(db):
    User.objects.create_user("Mixed@Case.com", "pw-long-enough-1", name="A")
    assert User.objects.get_by_natural_key("MIXED@case.com").email == "mixed@case.com"


def test_argon2_is_the_first_password_hasher():
    import fitness.settings as production_settings

    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
