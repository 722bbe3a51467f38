"""The app-version gate: 426 below the platform's minimum, except /config, refresh, health."""

import pytest

from accounts import tokens
from food.models import FoodLog
from rollout.models import MinAppVersion
from tests.asserts import assert_error

pytestmark = pytest.mark.django_db

OLD_IOS = {"X-Platform": "ios", "X-App-Version": "1.9.9"}


@pytest.fixture
def gate(settings):
    settings.MIN_APP_VERSION = {"ios": "2.0.0", "android": ""}


def test_gate_refuses_old_app_with_426_and_changes_nothing(auth_client, gate):
    response = auth_client.post(
        "/api/v1/food/logs", {"name": "Oats", "calories": 300}, format="json", headers=OLD_IOS
    )

    error = assert_error(response, 426, "app_update_required")
    assert error["details"] == {"platform": "ios", "app_version": "1.9.9", "min_version": "2.0.0"}
    assert FoodLog.objects.count() == 0


def test_gate_lets_current_app_and_unknown_callers_through(auth_client, gate):
    assert (
        auth_client.get(
            "/api/v1/auth/me", headers={"X-Platform": "ios", "X-App-Version": "2.0.0"}
        ).status_code
        == 200
    )
    assert auth_client.get("/api/v1/auth/me").status_code == 200
    # Only one of the two headers, or a version that is not one: not gated.
    assert auth_client.get("/api/v1/auth/me", headers={"X-App-Version": "1.0"}).status_code == 200
    assert (
        auth_client.get(
            "/api/v1/auth/me", headers={"X-Platform": "ios", "X-App-Version": "old"}
        ).status_code
        == 200
    )


def test_gate_is_per_platform_and_off_when_unset(auth_client, gate):
    android = {"X-Platform": "android", "X-App-Version": "0.1"}
    assert auth_client.get("/api/v1/auth/me", headers=android).status_code == 200


def test_gate_exempts_config_refresh_and_health(api_client, user, gate):
    pair = tokens.issue_pair(user)

    assert api_client.get("/api/v1/config", headers=OLD_IOS).status_code == 200
    refreshed = api_client.post(
        "/api/v1/auth/refresh",
        {"refresh_token": pair["refresh_token"]},
        format="json",
        headers=OLD_IOS,
    )
    assert refreshed.status_code == 200
    assert api_client.get("/healthz", headers=OLD_IOS).status_code == 200
    assert_error(
        api_client.post("/api/v1/auth/login", {}, format="json", headers=OLD_IOS),
        426,
        "app_update_required",
    )


def test_gate_raised_by_staff_in_the_database_above_the_environment(
    auth_client, settings, django_capture_on_commit_callbacks
):
    settings.MIN_APP_VERSION = {"ios": "", "android": ""}
    headers = {"X-Platform": "ios", "X-App-Version": "2.4.0"}
    assert auth_client.get("/api/v1/auth/me", headers=headers).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        MinAppVersion.objects.create(platform="ios", version="2.5.0")

    assert_error(auth_client.get("/api/v1/auth/me", headers=headers), 426, "app_update_required")
    assert (
        auth_client.get("/api/v1/config", headers=headers).json()["min_app_version"]["ios"]
        == "2.5.0"
    )


def test_schema_documents_426_on_gated_operations_only():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    assert "426" in paths["/api/v1/auth/me"]["get"]["responses"]
    assert "426" in paths["/api/v1/food/logs"]["post"]["responses"]
    assert "426" not in paths["/api/v1/config"]["get"]["responses"]
    assert "426" not in paths["/api/v1/auth/refresh"]["post"]["responses"]
    assert "426" not in paths["/healthz"]["get"]["responses"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("version", "expected"), [("1.9.9", {"type": "websocket.close", "code": 4426}), ("2.0.0", None)]
)
async def test_gate_closes_sockets_of_old_apps_with_4426(user, settings, version, expected):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from fitness.asgi import application

    settings.MIN_APP_VERSION = {"ios": "2.0.0", "android": ""}
    token = await database_sync_to_async(tokens.issue_pair)(user)
    socket = WebsocketCommunicator(
        application,
        "/ws/events/",
        headers=[
            (b"authorization", f"Bearer {token['access_token']}".encode()),
            (b"x-platform", b"ios"),
            (b"x-app-version", version.encode()),
        ],
    )
    connected, _ = await socket.connect(timeout=5)
    assert connected
    first = await socket.receive_output(5)
    if expected is None:
        assert first["type"] == "websocket.send"
        assert '"connected"' in first["text"]
    else:
        assert {key: first[key] for key in ("type", "code")} == expected
    await socket.disconnect()
