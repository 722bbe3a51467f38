"""A user's first session as the app drives it, and the events it leaves: exactly these
for a user who allows analytics, none for one who opted out. Gemini is the local stand-in."""

import uuid

import pytest
from django.utils import timezone

from accounts.models import User
from analytics.identity import actor_id
from analytics.models import AIUsageDaily, DailyActivity, Event, FeatureAdoption
from analytics.rollups import roll_up_day
from tests.ai_assistant.factories import analysis_payload
from tests.ai_assistant.gemini_standin import usage
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.storage.factories import jpeg_bytes, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media", "recognition_policy")]

PASSWORD = "A-long-journey-42"


def session(client, gemini, capture) -> None:
    """Log a meal by photo, ask the coach, complete a workout, send two screen views."""
    for _ in range(2):  # the two parallel analyses
        gemini.reply_json(analysis_payload(food_name="Eggs on toast"))
    gemini.stream(["Well done."], usage_metadata=usage(prompt=900, output=7))
    with capture(execute=True):
        job = client.post(
            "/api/v1/ai/food/recognize",
            {"image": upload(jpeg_bytes()), "log": "true"},
            format="multipart",
        )
    assert job.status_code == 202, job.content
    assert client.get(f"/api/v1/ai/jobs/{job.json()['id']}").json()["status"] == "succeeded"
    with capture(execute=True):
        chat = client.post("/api/v1/ai/chat/start", {}, format="json").json()
        reply = client.post(
            f"/api/v1/ai/chat/{chat['session_id']}/msg",
            {"message": "How am I doing?"},
            format="json",
        )
        assert reply.status_code == 200, reply.content
        workout = client.post(
            "/api/v1/workouts",
            {"name": "Run", "type": "cardio", "duration": 30, "completed": True},
            format="json",
        )
        assert workout.status_code == 201
    screens = [
        {
            "id": str(uuid.uuid4()),
            "name": "screen_viewed",
            "timestamp": timezone.now().isoformat(),
            "properties": {"screen": name},
        }
        for name in ("diary", "coach")
    ]
    posted = client.post("/api/v1/analytics/events", {"events": screens}, format="json")
    assert posted.status_code == 202


def test_a_first_session_leaves_exactly_its_events(
    api_client, gemini, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        registered = api_client.post(
            "/api/v1/auth/register",
            {"email": "jo@example.com", "password": PASSWORD, "name": "Jo"},
            format="json",
        )
    assert registered.status_code == 201
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {registered.json()['access_token']}")

    session(api_client, gemini, django_capture_on_commit_callbacks)

    user = User.objects.get()
    rows = list(Event.objects.order_by("id").values_list("actor", "origin", "name", "properties"))
    assert {actor for actor, *_ in rows} == {actor_id(user.pk)}
    assert [(origin, name, props) for _, origin, name, props in rows] == [
        ("server", "user_signed_up", {"method": "password"}),
        ("server", "food_logged", {"source": "photo", "count": 1}),
        ("server", "photo_recognized", {"outcome": "succeeded", "error": None}),
        ("server", "chat_message_sent", {}),
        ("server", "workout_completed", {"type": "cardio", "duration": 30}),
        ("client", "screen_viewed", {"screen": "diary"}),
        ("client", "screen_viewed", {"screen": "coach"}),
    ]

    today = timezone.now().date()
    roll_up_day(today)
    activity = DailyActivity.objects.get(day=today)
    assert (activity.dau, activity.new_users) == (1, 1)
    adopted = {
        row.feature for row in FeatureAdoption.objects.filter(day=today, window_days=7, users=1)
    }
    assert adopted == {"food_logging", "photo_recognition", "ai_chat", "workouts"}
    # Two analyses and one chat reply, all on the stand-in's model.
    assert sum(row.calls for row in AIUsageDaily.objects.filter(day=today)) == 3


def test_an_opted_out_user_leaves_no_event(gemini, django_capture_on_commit_callbacks):
    user = UserFactory(privacy_settings={"analytics": False})
    client = client_for(user)
    session(client, gemini, django_capture_on_commit_callbacks)
    assert Event.objects.count() == 0
