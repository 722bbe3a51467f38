"""track() and the services that call it: after commit, pseudonymous, one event per fact."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from analytics.events import FoodSource, ServerEvent
from analytics.identity import actor_id
from analytics.models import Event
from analytics.services import track
from food import services as food_services
from social import services as social_services
from tests.factories import UserFactory
from workouts import services as workout_services

STRONG = "a-Very-strong-passphrase-42"


def events():
    return list(Event.objects.order_by("id").values_list("name", "properties"))


def test_track_stores_after_commit_with_a_pseudonym(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        track(user, ServerEvent.FORM_CHECKED, {"photos": 2})
    assert Event.objects.count() == 0  # not before the commit
    for callback in callbacks:
        callback()
    event = Event.objects.get()
    assert event.name == "form_checked"
    assert event.origin == "server"
    assert event.properties == {"photos": 2}
    assert event.actor == actor_id(user.pk)
    assert user.email not in event.actor and str(user.pk) not in event.actor
    assert abs(event.occurred_at - timezone.now()) < timedelta(minutes=1)


@pytest.mark.django_db(transaction=True)
def test_track_in_a_rolled_back_transaction_stores_nothing():
    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        track(user, ServerEvent.FORM_CHECKED)
        raise RuntimeError("rolled back")
    assert Event.objects.count() == 0


def test_track_refuses_an_unknown_name(user):
    with pytest.raises(ValueError):
        track(user, "food_loged")


def test_register_and_login_track_signup_and_login(
    db, api_client, django_capture_on_commit_callbacks
):
    credentials = {"email": "a@example.com", "password": STRONG}
    with django_capture_on_commit_callbacks(execute=True):
        registered = api_client.post(
            "/api/v1/auth/register", {**credentials, "name": "A"}, format="json"
        )
        logged_in = api_client.post("/api/v1/auth/login", credentials, format="json")
    assert (registered.status_code, logged_in.status_code) == (201, 200)
    user = User.objects.get()
    assert events() == [
        ("user_signed_up", {"method": "password"}),
        ("user_logged_in", {"method": "password"}),
    ]
    assert set(Event.objects.values_list("actor", flat=True)) == {actor_id(user.pk)}


def test_failed_login_tracks_nothing(api_client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/auth/login", {"email": user.email, "password": "wrong"}, format="json"
        )
    assert response.status_code == 401
    assert events() == []


def _log(**extra):
    return {"name": "Apple", "calories": 95, "timestamp": timezone.now(), **extra}


def test_food_logged_carries_its_source_and_count(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        log, _ = food_services.log_food(owner=user, data=_log())
        food_services.log_food(owner=user, data=_log(id=log.pk))  # a resend: nothing new
        food_services.log_foods(owner=user, items=[_log(), _log()])
        food_services.log_food(owner=user, data=_log(), source=FoodSource.PHOTO)
    assert events() == [
        ("food_logged", {"source": "manual", "count": 1}),
        ("food_logged", {"source": "batch", "count": 2}),
        ("food_logged", {"source": "photo", "count": 1}),
    ]


def test_food_log_posted_with_an_analysis_counts_as_text(
    user, auth_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            "/api/v1/food/logs",
            {
                "name": "Porridge",
                "calories": 300,
                "timestamp": timezone.now().isoformat(),
                "ai_analysis": {"food_name": "porridge"},
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    assert events() == [("food_logged", {"source": "text", "count": 1})]


def test_workout_completed_once_when_it_becomes_completed(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        planned, _ = workout_services.create_workout(
            owner=user, data={"name": "Run", "type": "cardio", "duration": 30}
        )
        workout_services.update_workout(owner=user, workout_id=planned.pk, data={"completed": True})
        workout_services.update_workout(owner=user, workout_id=planned.pk, data={"notes": "ok"})
        workout_services.create_workout(
            owner=user,
            data={"name": "Lift", "type": "strength", "duration": 45, "completed": True},
        )
    assert events() == [
        ("workout_completed", {"type": "cardio", "duration": 30}),
        ("workout_completed", {"type": "strength", "duration": 45}),
    ]


def test_social_events(db, django_capture_on_commit_callbacks):
    owner, joiner = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        group = social_services.create_group(
            owner=owner, name="Runners", settings={"visibility": "public", "join_policy": "open"}
        )
        social_services.add_member(user=joiner, group_id=group.pk, user_id=joiner.pk)
        connection, _ = social_services.request_connection(user=owner, user_id=joiner.pk)
        social_services.accept_connection(user=joiner, connection_id=connection.pk)
        challenge = social_services.create_challenge(
            user=owner,
            group_id=group.pk,
            data={
                "name": "Move",
                "type": "workout_count",
                "start_date": timezone.now(),
                "end_date": timezone.now() + timedelta(days=7),
                "goals": {"target": 5, "unit": "workouts"},
            },
        )
        social_services.join_challenge(user=joiner, group_id=group.pk, challenge_id=challenge.pk)
    by_actor = list(Event.objects.order_by("id").values_list("actor", "name"))
    a, b = actor_id(owner.pk), actor_id(joiner.pk)
    assert by_actor == [
        (a, "group_created"),
        (b, "group_joined"),
        (a, "connection_requested"),
        (b, "connection_accepted"),
        (a, "challenge_created"),
        (b, "challenge_joined"),
    ]
