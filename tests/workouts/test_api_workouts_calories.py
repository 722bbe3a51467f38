"""Calories: the user's figure when given, else a flagged MET estimate."""

import pytest

from tests.conftest import client_for
from tests.factories import UserFactory
from tests.workouts.factories import workout_payload

URL = "/api/v1/workouts"
pytestmark = pytest.mark.django_db


def test_create_without_calories_estimates_and_says_so(client_for_lifter):
    body = client_for_lifter.post(
        URL, workout_payload(type="cardio", duration=45), format="json"
    ).json()["workout"]

    assert body["calories_burned"] == 420  # 7.0 MET x 80 kg x 0.75 h
    assert body["calories_estimated"] is True
    assert body["calories_estimate"] == {
        "method": "met",
        "met": 7.0,
        "body_weight_kg": 80.0,
        "body_weight_assumed": False,
    }


def test_estimate_flags_the_default_body_weight(db):
    client = client_for(UserFactory(weight_kg=None))

    body = client.post(URL, workout_payload(type="hiit", duration=30), format="json").json()[
        "workout"
    ]

    assert body["calories_burned"] == 280  # 8.0 MET x 70 kg (default) x 0.5 h
    assert body["calories_estimate"]["body_weight_assumed"] is True
    assert body["calories_estimate"]["body_weight_kg"] == 70.0


def test_given_calories_are_kept_and_not_flagged(client_for_lifter):
    body = client_for_lifter.post(
        URL, workout_payload(duration=45, calories_burned=333), format="json"
    ).json()["workout"]

    assert body["calories_burned"] == 333
    assert body["calories_estimated"] is False
    assert body["calories_estimate"] is None


def test_no_estimate_without_duration(client_for_lifter):
    body = client_for_lifter.post(URL, workout_payload(duration=None), format="json").json()[
        "workout"
    ]

    assert body["calories_burned"] is None
    assert body["calories_estimated"] is False


def test_estimate_follows_type_and_duration_changes(client_for_lifter):
    workout = client_for_lifter.post(URL, workout_payload(duration=60), format="json").json()[
        "workout"
    ]
    url = f"{URL}/{workout['id']}"

    longer = client_for_lifter.patch(url, {"duration": 90}, format="json").json()["workout"]
    harder = client_for_lifter.patch(url, {"type": "hiit"}, format="json").json()["workout"]

    assert workout["calories_burned"] == 280  # strength 3.5 x 80 x 1
    assert longer["calories_burned"] == 420  # 3.5 x 80 x 1.5
    assert harder["calories_burned"] == 960  # 8.0 x 80 x 1.5
    assert harder["calories_estimated"] is True


def test_users_figure_survives_duration_change_until_withdrawn(client_for_lifter):
    workout = client_for_lifter.post(
        URL, workout_payload(duration=60, calories_burned=500), format="json"
    ).json()["workout"]
    url = f"{URL}/{workout['id']}"

    kept = client_for_lifter.patch(url, {"duration": 30}, format="json").json()["workout"]
    withdrawn = client_for_lifter.patch(url, {"calories_burned": None}, format="json").json()[
        "workout"
    ]

    assert (kept["calories_burned"], kept["calories_estimated"]) == (500, False)
    assert (withdrawn["calories_burned"], withdrawn["calories_estimated"]) == (140, True)


def test_estimate_is_not_remade_when_body_weight_changes_later(client_for_lifter, lifter):
    workout = client_for_lifter.post(URL, workout_payload(duration=60), format="json").json()[
        "workout"
    ]
    lifter.weight_kg = 100
    lifter.save()

    renamed = client_for_lifter.patch(
        f"{URL}/{workout['id']}", {"name": "Renamed"}, format="json"
    ).json()["workout"]

    assert renamed["calories_burned"] == 280
    assert renamed["calories_estimate"]["body_weight_kg"] == 80.0
