"""Opting out, pseudonymous ids, retention and account deletion."""

import uuid
from datetime import timedelta

from django.utils import timezone

from analytics.events import ServerEvent
from analytics.identity import actor_id
from analytics.models import Event
from analytics.services import purge_expired_events, track
from analytics.tasks import purge_expired_events as purge_task
from tests.factories import UserFactory


def _client_event():
    return {"id": str(uuid.uuid4()), "name": "app_opened", "timestamp": timezone.now().isoformat()}


def test_opting_out_stores_nothing_from_then_on(
    user, auth_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        track(user, ServerEvent.FORM_CHECKED)
        response = auth_client.patch(
            "/api/v1/users/settings", {"privacy_settings": {"analytics": False}}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["privacy_settings"]["analytics"] is False
        user.refresh_from_db()
        track(user, ServerEvent.FORM_CHECKED)
        posted = auth_client.post(
            "/api/v1/analytics/events", {"events": [_client_event()]}, format="json"
        )
        auth_client.post(
            "/api/v1/food/logs",
            {"name": "Apple", "calories": 95, "timestamp": timezone.now().isoformat()},
            format="json",
        )
    assert posted.status_code == 202
    assert posted.json() == {"accepted": 0, "duplicates": 0}
    # Only the event from before the opt-out.
    assert list(Event.objects.values_list("name", flat=True)) == ["form_checked"]


def test_opting_back_in_records_again(user, auth_client, django_capture_on_commit_callbacks):
    user.privacy_settings = {"analytics": False}
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        auth_client.patch(
            "/api/v1/users/settings", {"privacy_settings": {"analytics": True}}, format="json"
        )
        posted = auth_client.post(
            "/api/v1/analytics/events", {"events": [_client_event()]}, format="json"
        )
    assert posted.json() == {"accepted": 1, "duplicates": 0}


def test_events_carry_a_pseudonym_not_the_user(user, auth_client):
    auth_client.post("/api/v1/analytics/events", {"events": [_client_event()]}, format="json")
    row = Event.objects.values().get()
    flat = " ".join(str(value) for value in row.values())
    assert user.email not in flat and str(user.pk) not in flat
    assert row["actor"] == actor_id(user.pk) != actor_id(UserFactory().pk)


def test_purge_deletes_events_older_than_the_retention(db, settings):
    settings.ANALYTICS_RETENTION_DAYS = 400
    now = timezone.now()
    for age in (401, 399, 0):
        Event.objects.create(
            actor="a", name="app_opened", origin="client", occurred_at=now - timedelta(days=age)
        )
    assert purge_expired_events(now=now) == 1
    ages = sorted((now - e.occurred_at).days for e in Event.objects.all())
    assert ages == [0, 399]


def test_purge_task_follows_the_setting(db, settings):
    settings.ANALYTICS_RETENTION_DAYS = 10
    Event.objects.create(
        actor="a",
        name="app_opened",
        origin="client",
        occurred_at=timezone.now() - timedelta(days=11),
    )
    assert purge_task.apply().get() == 1
    assert Event.objects.count() == 0


def test_deleting_an_account_deletes_its_events_only(db, django_capture_on_commit_callbacks):
    gone, kept = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        for who in (gone, kept):
            track(who, ServerEvent.FORM_CHECKED)
    gone.delete()
    assert list(Event.objects.values_list("actor", flat=True)) == [actor_id(kept.pk)]
