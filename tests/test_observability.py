"""A whole user journey through the service (sign up, a wrong then a right login, a photo
logged as a meal, a chat with the coach, the live-events socket, a workout completed, a
password reset, logout): every log line it writes is Cloud Logging JSON without any secret
or message content in it, and each step moved its metrics."""

import io
import json
import logging
import re

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core import mail

from fitness.asgi import application
from fitness.logging import CloudLoggingFormatter, RequestIDFilter
from tests.ai_assistant.conftest import STANDIN_KEY, gemini, private_media  # noqa: F401
from tests.ai_assistant.factories import analysis_payload
from tests.scrape import TOKEN, scrape, value
from tests.storage.factories import jpeg_bytes, upload

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "Journey.Person@example.com"
PASSWORD = "Sphinx-of-black-quartz-42"
WRONG_PASSWORD = "Not-my-password-17"
NEW_PASSWORD = "Judge-my-vow-anew-58"
CHAT_MESSAGE = "Is my marmalade habit ruining my cut?"
CHAT_REPLY = "Quince marmalade twice a week is fine."
FOOD_NAME = "Zucchini frittata"


@pytest.fixture
def logged():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(CloudLoggingFormatter())
    handler.addFilter(RequestIDFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def _events_socket(access: str) -> None:
    async def visit():
        socket = WebsocketCommunicator(application, f"/ws/events/?token={access}")
        assert (await socket.connect(timeout=5))[0]
        await socket.disconnect(timeout=5)

    async_to_sync(visit)()


def _journey(client, gemini, capture) -> list[str]:  # noqa: F811
    """Runs the journey; returns every credential it was handed."""
    signed_up = client.post(
        "/api/v1/auth/register", {"email": EMAIL, "password": PASSWORD, "name": "Jo"}, format="json"
    ).json()
    assert (
        client.post(
            "/api/v1/auth/login", {"email": EMAIL, "password": WRONG_PASSWORD}, format="json"
        ).status_code
        == 401
    )
    pair = client.post(
        "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD}, format="json"
    ).json()
    rotated = client.post(
        "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {rotated['access_token']}")

    for _ in range(2):
        gemini.reply_json(analysis_payload(food_name=FOOD_NAME))
    with capture(execute=True):
        recognized = client.post(
            "/api/v1/ai/food/recognize",
            {"image": upload(jpeg_bytes()), "log": "true"},
            format="multipart",
        )
    assert recognized.status_code == 202
    job = client.get(f"/api/v1/ai/jobs/{recognized.json()['id']}").json()
    assert job["status"] == "succeeded", job

    session = client.post("/api/v1/ai/chat/start", {}, format="json").json()["session_id"]
    gemini.stream([CHAT_REPLY])
    chat = client.post(f"/api/v1/ai/chat/{session}/msg", {"message": CHAT_MESSAGE}, format="json")
    assert chat.status_code == 200

    _events_socket(rotated["access_token"])

    workout = client.post(
        "/api/v1/workouts", {"name": "Intervals", "type": "cardio", "duration": 25}, format="json"
    ).json()["workout"]
    done = client.patch(f"/api/v1/workouts/{workout['id']}", {"completed": True}, format="json")
    assert done.status_code == 200

    with capture(execute=True):
        client.post("/api/v1/auth/reset-password", {"email": EMAIL}, format="json")
    reset_code = re.search(r"^\s*(\d{6})\s*$", mail.outbox[-1].body, re.MULTILINE).group(1)
    assert (
        client.post(
            "/api/v1/auth/reset-password/confirm",
            {"email": EMAIL, "code": reset_code, "new_password": NEW_PASSWORD},
            format="json",
        ).status_code
        == 204
    )
    client.credentials()
    return [
        signed_up["access_token"],
        signed_up["refresh_token"],
        pair["access_token"],
        pair["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
    ]


def test_a_whole_journey_logs_no_secret_and_moves_its_metrics(
    api_client,
    gemini,  # noqa: F811
    private_media,  # noqa: F811
    logged,
    django_capture_on_commit_callbacks,
):
    before = scrape(api_client)

    credentials = _journey(api_client, gemini, django_capture_on_commit_callbacks)

    after = scrape(api_client)
    text = logged.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    # Cloud Logging's shape on every line.
    assert all({"severity", "message", "time", "logger"} <= set(line) for line in lines)
    requests = [line for line in lines if line["logger"] == "fitness.request"]
    assert len(requests) >= 14
    assert all("httpRequest" in line and line["route"].startswith("/") for line in requests)
    assert [line["event"] for line in lines if line["logger"] == "fitness.websocket"] == [
        "connect",
        "close",
    ]
    assert any(line["task"].endswith("recognize_food") for line in lines if "task" in line)
    # Nothing a person typed or was handed as a credential, in any case.
    lowered = text.lower()
    for secret in [
        PASSWORD,
        WRONG_PASSWORD,
        NEW_PASSWORD,
        CHAT_MESSAGE,
        CHAT_REPLY,
        "marmalade",
        FOOD_NAME,
        EMAIL,
        STANDIN_KEY,
        TOKEN,
        *credentials,
    ]:
        assert secret.lower() not in lowered, f"logged: {secret!r}"

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("http_requests_total", route="/api/v1/auth/register", status="201") == 1
    assert moved("http_requests_total", route="/api/v1/auth/login", status="401") == 1
    assert moved("http_requests_total", route="/api/v1/ai/food/recognize", status="202") == 1
    assert moved("login_failures_total", surface="api", reason="invalid_credentials") == 1
    assert moved("ai_requests_total", endpoint="food.recognize", outcome="ok") == 2
    assert moved("ai_requests_total", outcome="ok") == 3
    assert moved("recognition_jobs_total", outcome="succeeded") == 1
    assert moved("websocket_connections_total", route="/ws/events/") == 1
    assert moved("ai_estimated_cost_usd_total") > 0
    assert moved("celery_tasks_total", task="ai_assistant.tasks.recognize_food") == 1
