"""Redis stopped mid-traffic: what needs it answers 503 `service_unavailable` (a WebSocket
closes with 1013), in one log line each, and everything recovers when it is back."""

import logging

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import LoginAttemptWindow
from fitness.asgi import application
from food.models import FoodLog
from tests.factories import DEFAULT_PASSWORD
from tests.redis_server import RedisServer, needs_redis_server, point_at

pytestmark = [needs_redis_server, pytest.mark.django_db(transaction=True)]

ME = "/api/v1/auth/me"
LOGS = "/api/v1/food/logs"
CHAT_START = "/api/v1/ai/chat/start"
MEAL = {"name": "Oatmeal", "calories": 350, "timestamp": "2026-11-20T08:15:00Z"}


@pytest.fixture
def own_redis(settings):
    server = RedisServer().start()
    point_at(settings, server)
    yield server
    server.stop()


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _login(email: str, password: str = DEFAULT_PASSWORD):
    return APIClient().post(
        "/api/v1/auth/login", {"email": email, "password": password}, format="json"
    )


def _assert_unavailable(response, what: str = "") -> None:
    assert response.status_code == 503, (what, response.content)
    assert response.json() == {
        "error": {
            "code": "service_unavailable",
            "message": "A service this request needs is unavailable. Try again shortly.",
            "details": {"retry_after": int(response["Retry-After"])},
        }
    }
    assert int(response["Retry-After"]) > 0


async def _handshake(path: str) -> tuple[bool, dict]:
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect(timeout=5)
    first = await communicator.receive_output(timeout=5)
    await communicator.disconnect()
    return connected, first


def _requests(pair: dict, chat_session: str) -> dict:
    """One of each request the outage sweep found answering 500."""
    client = _bearer(pair["access_token"])
    return {
        "login": _login("someone@example.com"),
        "me": client.get(ME),
        "food-log create": client.post(LOGS, MEAL, format="json"),
        "chat start": client.post(CHAT_START, {}, format="json"),
        "chat message": client.post(
            f"/api/v1/ai/chat/{chat_session}/msg", {"message": "Hi"}, format="json"
        ),
        "recognition": client.post("/api/v1/ai/food/recognize", {}, format="multipart"),
    }


def test_redis_outage_answers_503_in_one_line_and_recovers(own_redis, user, caplog):
    pair = _login(user.email).json()
    client = _bearer(pair["access_token"])
    assert client.get(ME).status_code == 200
    session = client.post(CHAT_START, {}, format="json").json()["session_id"]
    connected, first = async_to_sync(_handshake)(f"/ws/events/?token={pair['access_token']}")
    assert connected and first["type"] == "websocket.send"

    own_redis.stop()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        answers = _requests(pair, session)
        connected, first = async_to_sync(_handshake)(f"/ws/events/?token={pair['access_token']}")
        # The refresh token is decided by the database alone, so a session can still be
        # renewed; what the new access token unlocks waits for Redis like everything else.
        refreshed = APIClient().post(
            "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
        )

    for name, response in answers.items():
        _assert_unavailable(response, name)
    assert not FoodLog.objects.exists()
    assert not LoginAttemptWindow.objects.exists()  # refused before the lockout counted it
    assert connected
    assert first == {"type": "websocket.close", "code": 1013}
    assert refreshed.status_code == 200
    assert not [r for r in caplog.records if r.exc_info], "an outage logs no traceback"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    outage_lines = [r for r in caplog.records if "unavailable" in r.getMessage()]
    # One per refused request and socket, and one for the refresh (its cache warm-up).
    assert len(outage_lines) == len(answers) + 2

    own_redis.start()  # same port, empty: nothing of the app is restarted

    fresh = _bearer(refreshed.json()["access_token"])
    assert fresh.get(ME).status_code == 200
    assert fresh.post(LOGS, MEAL, format="json").status_code == 201
    assert fresh.post(CHAT_START, {}, format="json").status_code == 201
    assert _login(user.email).status_code == 200
    connected, first = async_to_sync(_handshake)(
        f"/ws/events/?token={refreshed.json()['access_token']}"
    )
    assert connected and first["type"] == "websocket.send"


def test_tokens_are_refused_not_waved_through_while_redis_is_down(own_redis, user):
    """Failing closed: with the revocation record unreadable nothing is let through, not
    even a token that was never revoked."""
    pair = _login(user.email).json()
    own_redis.stop()
    _assert_unavailable(_bearer(pair["access_token"]).get(ME))
    logout = _bearer(pair["access_token"]).post(
        "/api/v1/auth/logout", {"refresh_token": pair["refresh_token"]}, format="json"
    )
    _assert_unavailable(logout)
    own_redis.start()
    assert _bearer(pair["access_token"]).get(ME).status_code == 200


def test_outage_outside_drf_answers_503_envelope(own_redis, settings, caplog):
    settings.ROOT_URLCONF = "tests.fitness.outage_urls"
    own_redis.stop()
    with caplog.at_level(logging.INFO):
        response = Client(raise_request_exception=False).get("/api/v1/plain-django-view")
    _assert_unavailable(response)
    assert not [r for r in caplog.records if r.exc_info]
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
