"""GET /workouts/stats on a data set whose expected values are worked out by hand."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.asserts import assert_error
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.workouts.factories import create_workout, exercise_payload

URL = "/api/v1/workouts/stats"
pytestmark = pytest.mark.django_db


def kg(value) -> dict:
    return {"value": value, "unit": "kg"}


@pytest.fixture
def log(lifter):
    """Five workouts; four of them in the weeks of 3, 10 and 17 March 2025 (UTC).

    Volumes (sets x reps x kg):
      W5 20 Feb  bench 1x1x100 = 100                                      (outside range)
      W1  3 Mar  bench 3x5x100 = 1500; squat 2x10x225 lb (102.0583 kg) = 2041.166
      W2  5 Mar  cardio, no weights; calories estimated 7.0 MET x 80 kg x 0.5 h = 280
      W3 12 Mar  bench sets 3x105 + 1x110 + 8x90 = 1145; deadlift 1x5x140 = 700;
                 calories estimated 3.5 MET x 80 kg x 0.75 h = 210
      W4 20 Mar  deadlift 1x5x140 = 700 (ties W3: the earlier date keeps the record)
    """
    create_workout(
        lifter,
        name="W5",
        created_at="2025-02-20T09:00:00Z",
        calories_burned=100,
        exercises=[exercise_payload("Bench Press", sets=1, reps=1, weight=kg(100))],
    )
    w1 = create_workout(
        lifter,
        name="W1",
        created_at="2025-03-03T10:00:00Z",
        duration=60,
        calories_burned=400,
        completed=True,
        completed_at="2025-03-03T11:00:00Z",
        exercises=[
            exercise_payload("Bench Press", sets=3, reps=5, weight=kg(100)),
            exercise_payload("Squat", sets=2, reps=10, weight={"value": 225, "unit": "lb"}),
        ],
    )
    create_workout(
        lifter,
        name="W2",
        type="cardio",
        created_at="2025-03-05T18:00:00Z",
        duration=30,
        exercises=[exercise_payload("Run", duration=1800, distance=5000)],
    )
    w3 = create_workout(
        lifter,
        name="W3",
        created_at="2025-03-12T07:00:00Z",
        duration=45,
        completed=True,
        completed_at="2025-03-12T08:00:00Z",
        exercises=[
            exercise_payload(
                "bench  press",
                set_logs=[
                    {"reps": 3, "weight": kg(105)},
                    {"reps": 1, "weight": kg(110)},
                    {"reps": 8, "weight": kg(90)},
                ],
            ),
            exercise_payload("Deadlift", sets=1, reps=5, weight=kg(140)),
        ],
    )
    create_workout(
        lifter,
        name="W4",
        type="hiit",
        created_at="2025-03-20T12:00:00Z",
        duration=20,
        calories_burned=250,
        completed=True,
        completed_at="2025-03-20T12:30:00Z",
        exercises=[exercise_payload("Deadlift", sets=1, reps=5, weight=kg(140))],
    )
    return {"w1": str(w1.id), "w3": str(w3.id)}


RANGE = {"from": "2025-03-03", "to": "2025-03-23"}


def test_stats_totals_cover_the_range(client_for_lifter, log):
    body = client_for_lifter.get(URL, RANGE).json()

    # The dates as sent, not the instants they stand for in the user's zone.
    assert body["from"] == "2025-03-03"
    assert body["to"] == "2025-03-23"
    assert body["totals"] == {
        "workouts": 4,
        "completed": 3,
        "minutes": 60 + 30 + 45 + 20,
        "calories_burned": 400 + 280 + 210 + 250,
        # 1500 + 2041.166 + 1145 + 700 + 700
        "training_volume": kg(6086.17),
    }


def test_stats_breakdown_by_type_lists_every_type(client_for_lifter, log):
    by_type = {row.pop("type"): row for row in client_for_lifter.get(URL, RANGE).json()["by_type"]}

    assert list(by_type) == ["strength", "cardio", "hiit", "flexibility", "sports", "other"]
    assert by_type["strength"] == {
        "workouts": 2,
        "completed": 2,
        "minutes": 105,
        "calories_burned": 610,
        "training_volume": kg(5386.17),
    }
    assert by_type["cardio"] == {
        "workouts": 1,
        "completed": 0,
        "minutes": 30,
        "calories_burned": 280,
        "training_volume": kg(0.0),
    }
    assert by_type["hiit"]["training_volume"] == kg(700.0)
    assert by_type["sports"]["workouts"] == 0


def test_stats_weekly_series_has_one_entry_per_week(client_for_lifter, log):
    weekly = client_for_lifter.get(URL, RANGE).json()["weekly"]

    assert weekly == [
        {
            "week_start": "2025-03-03",
            "workouts": 2,
            "completed": 1,
            "minutes": 90,
            "calories_burned": 680,
            "training_volume": kg(3541.17),
        },
        {
            "week_start": "2025-03-10",
            "workouts": 1,
            "completed": 1,
            "minutes": 45,
            "calories_burned": 210,
            "training_volume": kg(1845.0),
        },
        {
            "week_start": "2025-03-17",
            "workouts": 1,
            "completed": 1,
            "minutes": 20,
            "calories_burned": 250,
            "training_volume": kg(700.0),
        },
    ]


def test_stats_weekly_series_fills_empty_weeks(client_for_lifter, log):
    weekly = client_for_lifter.get(URL, {"from": "2025-02-17", "to": "2025-03-09"}).json()["weekly"]

    assert [(w["week_start"], w["workouts"]) for w in weekly] == [
        ("2025-02-17", 1),
        ("2025-02-24", 0),
        ("2025-03-03", 2),
    ]


def test_stats_personal_records_per_exercise_with_dates(client_for_lifter, log):
    records = client_for_lifter.get(URL, RANGE).json()["personal_records"]

    assert [r["exercise"] for r in records] == ["bench  press", "Deadlift", "Squat"]
    bench, deadlift, squat = records
    w1, w3 = log["w1"], log["w3"]
    # Bench: heaviest 110 (single, 12 Mar); Epley 100 x (1 + 5/30) = 116.67 beats
    # 105 x (1 + 3/30) = 115.5 and 90 x (1 + 8/30) = 114; volume 1500 beats 1145 and 100.
    assert bench["heaviest_weight"] == {**kg(110.0), "date": "2025-03-12", "workout_id": w3}
    assert bench["best_one_rep_max"] == {
        **kg(116.67),
        "date": "2025-03-03",
        "workout_id": w1,
    }
    assert bench["best_volume"] == {**kg(1500.0), "date": "2025-03-03", "workout_id": w1}
    # Deadlift: the same lift on 12 and 20 Mar; the record dates from when it was first set.
    assert deadlift["heaviest_weight"] == {
        **kg(140.0),
        "date": "2025-03-12",
        "workout_id": w3,
    }
    assert deadlift["best_one_rep_max"] == {
        **kg(163.33),
        "date": "2025-03-12",
        "workout_id": w3,
    }  # 140 x (1 + 5/30)
    assert deadlift["best_volume"]["date"] == "2025-03-12"
    # Squat, entered as 225 lb = 102.0583 kg: Epley 102.0583 x (1 + 10/30) = 136.08.
    assert squat["heaviest_weight"]["unit"] == "kg"
    assert squat["heaviest_weight"]["value"] == kg(102.06)["value"]
    assert squat["best_one_rep_max"]["value"] == kg(136.08)["value"]
    assert squat["best_volume"]["value"] == kg(2041.17)["value"]


def test_stats_render_masses_in_pounds_for_imperial_users(client_for_lifter, lifter, log):
    lifter.measurement_system = "imperial"
    lifter.save()

    body = client_for_lifter.get(URL, RANGE).json()

    lb = {"unit": "lb"}
    assert body["totals"]["training_volume"] == {"value": 13417.7, **lb}  # 6086.166 kg
    squat = body["personal_records"][2]
    assert squat["heaviest_weight"]["value"] == 225.0
    assert squat["heaviest_weight"]["unit"] == "lb"
    assert {"value": 4500.0, **lb}.items() <= squat["best_volume"].items()  # 2 x 10 x 225 lb


def test_stats_without_range_cover_everything(client_for_lifter, log):
    body = client_for_lifter.get(URL).json()

    assert body["from"] is None and body["to"] is None
    assert body["totals"]["workouts"] == 5
    assert body["totals"]["training_volume"] == kg(6186.17)
    assert body["weekly"][0]["week_start"] == "2025-02-17"
    assert sum(week["workouts"] for week in body["weekly"]) == 5


def test_stats_ignore_deleted_and_other_users_workouts(client_for_lifter, lifter, log, other_user):
    create_workout(other_user, created_at="2025-03-04T10:00:00Z", calories_burned=999)
    doomed = create_workout(lifter, created_at="2025-03-04T10:00:00Z", calories_burned=999)
    assert client_for_lifter.delete(f"/api/v1/workouts/{doomed.id}").status_code == 204

    body = client_for_lifter.get(URL, RANGE).json()

    assert body["totals"]["workouts"] == 4
    assert body["totals"]["calories_burned"] == 1140


def test_stats_weeks_and_days_follow_the_users_time_zone(db):
    user = UserFactory(timezone="Asia/Tokyo", weight_kg=80)
    # Sunday 23:30 UTC is already Monday 08:30 in Tokyo.
    create_workout(user, created_at="2025-03-09T23:30:00Z", calories_burned=100)

    body = client_for(user).get(URL, {"from": "2025-03-10", "to": "2025-03-16"}).json()

    assert body["totals"]["workouts"] == 1
    assert [w["week_start"] for w in body["weekly"]] == ["2025-03-10"]


def test_stats_streak_counts_consecutive_days_ending_today_or_yesterday(db):
    user = UserFactory()
    now = timezone.now()
    for days_ago in (1, 2, 3, 5):
        create_workout(user, created_at=(now - timedelta(days=days_ago)).isoformat())

    before = client_for(user).get(URL).json()["streak_days"]
    create_workout(user)
    after = client_for(user).get(URL).json()["streak_days"]

    assert before == 3
    assert after == 4


def test_stats_of_a_new_user_are_zero(auth_client):
    body = auth_client.get(URL).json()

    assert body["totals"] == {
        "workouts": 0,
        "completed": 0,
        "minutes": 0,
        "calories_burned": 0,
        "training_volume": kg(0.0),
    }
    assert body["weekly"] == []
    assert body["streak_days"] == 0
    assert body["personal_records"] == []


def test_stats_echo_date_times_as_sent(client_for_lifter, log):
    bounds = {"from": "2025-03-03T06:00:00+01:00", "to": "2025-03-23T20:00:00-05:00"}

    body = client_for_lifter.get(URL, bounds).json()

    assert (body["from"], body["to"]) == (bounds["from"], bounds["to"])


@pytest.mark.parametrize("params", [{"from": "soon"}, {"from": "2025-03-10", "to": "2025-03-01"}])
def test_stats_reject_bad_bounds(auth_client, params):
    response = auth_client.get(URL, params)

    assert_error(response, 400, "validation_error")


def test_stats_query_count_is_fixed(client_for_lifter, lifter, django_assert_max_num_queries):
    create_workout(lifter)
    few = _count(client_for_lifter)
    for day in range(30):
        create_workout(
            lifter,
            created_at=(timezone.now() - timedelta(days=day * 3)).isoformat(),
            exercises=[
                exercise_payload(f"Lift {n}", sets=3, reps=5, weight=kg(40 + day + n))
                for n in range(5)
            ],
        )

    with django_assert_max_num_queries(few):
        body = client_for_lifter.get(URL).json()
    assert len(body["personal_records"]) == 6
    assert few <= 6


def _count(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    return len(captured)
