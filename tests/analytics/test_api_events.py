"""POST /api/v1/analytics/events: the app's own events."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.identity import actor_id
from analytics.models import Event
from tests.asserts import assert_error

URL = "/api/v1/analytics/events"


def event(**fields):
    return {
        "id": str(uuid.uuid4()),
        "name": "screen_viewed",
        "timestamp": timezone.now().isoformat(),
        "properties": {"screen": "diary"},
        **fields,
    }


def test_events_are_accepted_with_202(auth_client, user):
    batch = [event(), event(name="button_tapped", properties={"button": "add", "n": 2})]
    response = auth_client.post(URL, {"events": batch}, format="json")
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0}
    stored = Event.objects.order_by("name")
    assert [(e.name, e.origin, e.actor) for e in stored] == [
        ("button_tapped", "client", actor_id(user.pk)),
        ("screen_viewed", "client", actor_id(user.pk)),
    ]
    assert stored[0].properties == {"button": "add", "n": 2}
    assert {str(e.client_event_id) for e in stored} == {e["id"] for e in batch}


def test_resent_and_repeated_ids_are_duplicates(auth_client):
    first = event()
    auth_client.post(URL, {"events": [first]}, format="json")
    again = event()
    response = auth_client.post(URL, {"events": [first, again, again]}, format="json")
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 2}
    assert Event.objects.count() == 2


def test_the_same_client_id_of_two_users_is_two_events(auth_client, other_client):
    shared = event()
    auth_client.post(URL, {"events": [shared]}, format="json")
    response = other_client.post(URL, {"events": [shared]}, format="json")
    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert Event.objects.count() == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "user_signed_up"},  # a server event
        {"name": "anything_at_all"},
        {"timestamp": (timezone.now() + timedelta(hours=1)).isoformat()},
        {"timestamp": (timezone.now() - timedelta(days=8)).isoformat()},
        {"timestamp": "2026-12-02T10:00:00"},  # no zone
        {"id": "not-a-uuid"},
        {"properties": {"nested": {"a": 1}}},
        {"properties": {"list": [1, 2]}},
        {"properties": {"Bad-Key": 1}},
        {"properties": {"long": "x" * 201}},
        {"properties": {f"k{i}": i for i in range(21)}},
        {"properties": {"huge": 2**60}},
        {"extra": 1},
    ],
)
def test_invalid_events_store_nothing(auth_client, bad):
    response = auth_client.post(URL, {"events": [event(), event(**bad)]}, format="json")
    assert_error(response, 400, "validation_error")
    assert Event.objects.count() == 0


def test_more_than_100_events_are_refused(auth_client):
    response = auth_client.post(URL, {"events": [event() for _ in range(101)]}, format="json")
    assert_error(response, 400, "validation_error")
    assert Event.objects.count() == 0


def test_exactly_100_events_are_taken(auth_client):
    response = auth_client.post(URL, {"events": [event() for _ in range(100)]}, format="json")
    assert response.json() == {"accepted": 100, "duplicates": 0}


def test_an_empty_batch_is_refused(auth_client):
    assert_error(auth_client.post(URL, {"events": []}, format="json"), 400, "validation_error")


def test_anonymous_is_refused(api_client, db):
    assert_error(
        api_client.post(URL, {"events": [event()]}, format="json"), 401, "not_authenticated"
    )
    assert Event.objects.count() == 0


def test_posting_is_rate_limited_per_user(auth_client, other_client, settings):
    settings.ANALYTICS_CLIENT_RATE = "2/minute"
    for _ in range(2):
        assert auth_client.post(URL, {"events": [event()]}, format="json").status_code == 202
    response = auth_client.post(URL, {"events": [event()]}, format="json")
    error = assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) == error["details"]["retry_after"] > 0
    assert Event.objects.count() == 2
    assert other_client.post(URL, {"events": [event()]}, format="json").status_code == 202
