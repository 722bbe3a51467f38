"""Challenges: validation, membership rules, and boards computed by the database from
hand-made data across a time-zone boundary."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.selectors import get_user_stats
from social import services
from social.models import Challenge, ChallengeParticipant, LeaderboardEntry
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.food.factories import FoodLogFactory
from tests.social.conftest import add, make_group
from tests.workouts.factories import create_workout, exercise_payload

TOKYO = ZoneInfo("Asia/Tokyo")


def url(group, challenge=None) -> str:
    base = f"/api/v1/groups/{group.pk}/challenges"
    return f"{base}/{challenge.pk}" if challenge else base


@pytest.fixture
def group(db):
    owner = UserFactory()
    return make_group(owner)


@pytest.fixture
def owner(group):
    return group.memberships.get(role="owner").user


def payload(**fields) -> dict:
    now = timezone.now()
    return {
        "name": "Ten workouts",
        "description": "In a week",
        "type": "workout_count",
        "goals": {"target": 10},
        "timezone": "Asia/Tokyo",
        "start_date": (now - timedelta(days=1)).isoformat(),
        "end_date": (now + timedelta(days=6)).isoformat(),
        **fields,
    }


def test_create_returns_challenge_in_the_plans_shape(group, owner):
    response = client_for(owner).post(url(group), payload(), format="json")
    assert response.status_code == 201
    body = response.json()
    for field in (
        "id", "name", "description", "start_date", "end_date", "type", "goals",
        "participants", "leaderboard",
    ):  # fmt: skip
        assert field in body
    assert body["goals"] == {"target": 10.0, "unit": "workouts"}
    assert body["status"] == "active" and body["timezone"] == "Asia/Tokyo"
    assert body["participants"] == [] and body["leaderboard"] == []


def test_a_date_alone_is_that_days_start_in_the_challenges_zone(group, owner):
    today = timezone.now().astimezone(TOKYO).date()
    body = (
        client_for(owner)
        .post(
            url(group),
            payload(start_date=str(today), end_date=str(today + timedelta(days=7))),
            format="json",
        )
        .json()
    )
    start = datetime.fromisoformat(body["start_date"])
    assert start == datetime.combine(today, time.min, tzinfo=TOKYO)


@pytest.mark.parametrize(
    "change",
    [
        {"end_date": (timezone.now() - timedelta(days=2)).isoformat()},
        {"end_date": (timezone.now() + timedelta(days=400)).isoformat()},
        {"start_date": "yesterday"},
        {"type": "push_ups"},
        {"goals": {"target": 0}},
        {"goals": {"target": 5, "unit": "kg"}},
        {"goals": {"target": 5, "extra": 1}},
        {"timezone": "Mars/Olympus"},
        {"colour": "red"},
    ],
)
def test_create_refuses_bad_input(group, owner, change):
    response = client_for(owner).post(url(group), payload(**change), format="json")
    assert_error(response, 400, "validation_error")
    assert not Challenge.objects.exists()


def test_ended_challenge_cannot_be_created_joined_or_changed(group, owner):
    now = timezone.now()
    past = payload(
        start_date=(now - timedelta(days=9)).isoformat(),
        end_date=(now - timedelta(days=1)).isoformat(),
    )
    assert_error(client_for(owner).post(url(group), past, format="json"), 400, "validation_error")
    challenge = Challenge.objects.create(
        group=group, name="old", type="workout_count", goals={"target": 1, "unit": "workouts"},
        start_date=now - timedelta(days=9), end_date=now - timedelta(days=1),
    )  # fmt: skip
    client = client_for(owner)
    assert_error(client.post(f"{url(group, challenge)}/participants"), 409, "challenge_closed")
    assert_error(client.put(url(group, challenge), {"name": "x"}, "json"), 409, "challenge_closed")


def test_participants_are_active_members_only(group, owner):
    challenge = services.create_challenge(user=owner, group_id=group.pk, data=_data())
    member, outsider, invited = UserFactory(), UserFactory(), UserFactory()
    add(group, member)
    add(group, invited, status="invited")
    path = f"{url(group, challenge)}/participants"

    joined = client_for(member).post(path)
    assert joined.status_code == 201 and joined.json()["user_id"] == str(member.pk)
    assert client_for(member).post(path).status_code == 200
    assert_error(client_for(invited).post(path), 403, "forbidden")
    assert_error(client_for(outsider).post(path), 404, "not_found")
    assert client_for(member).get(url(group, challenge)).json()["participants"] == [str(member.pk)]
    assert client_for(member).delete(path).status_code == 204
    assert_error(client_for(member).delete(path), 404, "not_found")


def test_list_filters_by_status(group, owner):
    now = timezone.now()
    active = services.create_challenge(user=owner, group_id=group.pk, data=_data())
    upcoming = services.create_challenge(
        user=owner,
        group_id=group.pk,
        data=_data(start_date=now + timedelta(days=2), end_date=now + timedelta(days=5)),
    )
    client = client_for(owner)

    def ids(status: str) -> list[str]:
        return [c["id"] for c in client.get(url(group), {"status": status}).json()["items"]]

    assert ids("active") == [str(active.pk)]
    assert ids("upcoming") == [str(upcoming.pk)]
    assert ids("finished") == []
    assert_error(client.get(url(group), {"status": "soon"}), 400, "validation_error")


def test_update_by_admin_recomputes(group, owner):
    challenge = services.create_challenge(user=owner, group_id=group.pk, data=_data())
    response = client_for(owner).put(
        url(group, challenge), {"name": "Renamed", "goals": {"target": 3}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["goals"] == {"target": 3.0, "unit": "workouts"}
    member = UserFactory()
    add(group, member)
    assert_error(
        client_for(member).put(url(group, challenge), {"name": "Mine"}, format="json"),
        403,
        "forbidden",
    )


def _data(**fields) -> dict:
    now = timezone.now()
    return {
        "name": "c",
        "description": "",
        "type": "workout_count",
        "goals": {"target": 2, "unit": "workouts"},
        "timezone": "Asia/Tokyo",
        "start_date": now - timedelta(days=1),
        "end_date": now + timedelta(days=6),
        **fields,
    }


# --- scoring -----------------------------------------------------------------------------


class Board:
    """A Tokyo-time challenge over the last days with two participants, Aiko and Ben.

    Local day D is three days ago in Tokyo. Aiko trains at 23:30 on D and 00:30 on D+1:
    two local days, though one UTC day (14:30 and 15:30 UTC on D). Ben trains at 10:00 and
    20:00 on D: one day. Outside the window, unfinished or deleted workouts never count.
    """

    def __init__(self, kind: str, target: float = 2):
        self.owner = UserFactory()
        self.group = make_group(self.owner)
        self.aiko, self.ben = UserFactory(display_name="Aiko"), UserFactory(display_name="Ben")
        for user in (self.aiko, self.ben):
            add(self.group, user)
        today = timezone.now().astimezone(TOKYO).date()
        self.day = today - timedelta(days=3)
        self.challenge = services.create_challenge(
            user=self.owner,
            group_id=self.group.pk,
            data=_data(
                type=kind,
                goals={"target": target, "unit": "x"},
                start_date=self.at(-1, 0, 0),
                end_date=timezone.now() + timedelta(days=3),
            ),
        )
        for user in (self.aiko, self.ben):
            ChallengeParticipant.objects.create(challenge=self.challenge, user=user)

    def at(self, offset_days: int, hour: int, minute: int) -> datetime:
        local = datetime.combine(self.day + timedelta(days=offset_days), time(hour, minute))
        return local.replace(tzinfo=TOKYO)

    def workout(self, user, when, **fields):
        fields.setdefault("completed", True)
        return create_workout(user, created_at=when.isoformat(), **fields)

    def refresh(self) -> list[dict]:
        assert services.refresh_leaderboard(challenge_id=self.challenge.pk)
        response = client_for(self.aiko).get(url(self.group, self.challenge))
        assert response.status_code == 200
        return response.json()["leaderboard"]

    def scores(self) -> dict[str, float]:
        return {row["display_name"]: row["score"] for row in self.refresh()}


def _standard_workouts(board: Board) -> None:
    board.workout(board.aiko, board.at(0, 23, 30), duration=30, calories_burned=300)
    board.workout(board.aiko, board.at(1, 0, 30), duration=20, calories_burned=200)
    board.workout(board.ben, board.at(0, 10, 0), duration=45, calories_burned=100)
    board.workout(board.ben, board.at(0, 20, 0), duration=15, calories_burned=150)
    # Never counted: before the start, not completed, deleted.
    board.workout(board.aiko, board.at(-2, 23, 59), duration=99, calories_burned=999)
    board.workout(board.ben, board.at(1, 9, 0), completed=False, duration=99)
    gone = board.workout(board.ben, board.at(1, 9, 0), duration=99, calories_burned=999)
    gone.deleted_at = timezone.now()
    gone.save()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("workout_count", {"Aiko": 2, "Ben": 2}),
        ("workout_minutes", {"Aiko": 50, "Ben": 60}),
        ("calories_burned", {"Aiko": 500, "Ben": 250}),
        ("active_days", {"Aiko": 2, "Ben": 1}),
    ],
)
def test_workout_scores_in_the_challenges_zone(db, kind, expected):
    board = Board(kind)
    _standard_workouts(board)
    assert board.scores() == expected


def test_training_volume_sums_kg(db):
    board = Board("training_volume", target=1000)
    board.workout(
        board.aiko,
        board.at(0, 12, 0),
        exercises=[exercise_payload("Squat", sets=3, reps=5, weight={"value": 100, "unit": "kg"})],
    )
    board.workout(
        board.ben,
        board.at(0, 12, 0),
        exercises=[exercise_payload("Row", sets=2, reps=10, weight={"value": 50, "unit": "kg"})],
    )
    rows = board.refresh()
    assert [(row["display_name"], row["score"], row["progress"]) for row in rows] == [
        ("Aiko", 1500.0, 1.0),
        ("Ben", 1000.0, 1.0),
    ]


def test_ties_go_to_who_reached_the_score_first(db):
    board = Board("workout_count", target=2)
    _standard_workouts(board)
    rows = board.refresh()
    # Both have two; Ben's second came at 20:00 on D, Aiko's at 00:30 on D+1.
    assert [(row["rank"], row["display_name"]) for row in rows] == [(1, "Ben"), (2, "Aiko")]
    assert all(row["completed_at"] for row in rows)
    assert rows[0]["progress"] == 1.0


def test_food_logging_days_across_midnight(db):
    board = Board("food_logging_days", target=3)
    FoodLogFactory(owner=board.aiko, timestamp=board.at(0, 23, 50))
    FoodLogFactory(owner=board.aiko, timestamp=board.at(1, 0, 10))
    FoodLogFactory(owner=board.aiko, timestamp=board.at(1, 8, 0))
    FoodLogFactory(owner=board.ben, timestamp=board.at(0, 8, 0))
    FoodLogFactory(owner=board.ben, timestamp=board.at(-2, 8, 0))  # before the start
    rows = board.refresh()
    assert [(row["display_name"], row["score"]) for row in rows] == [("Aiko", 2.0), ("Ben", 1.0)]
    assert rows[0]["progress"] == pytest.approx(2 / 3)
    assert rows[0]["completed_at"] is None


def test_protein_goal_days_use_each_users_goal(db):
    board = Board("protein_goal_days", target=5)
    board.aiko.preferences = {"daily_goals": {"protein": 100}}
    board.aiko.save()
    board.ben.preferences = {"daily_goals": {"protein": 40}}
    board.ben.save()
    FoodLogFactory(owner=board.aiko, timestamp=board.at(0, 9, 0), protein=60)
    FoodLogFactory(owner=board.aiko, timestamp=board.at(0, 19, 0), protein=50)  # 110 ≥ 100
    FoodLogFactory(owner=board.aiko, timestamp=board.at(1, 9, 0), protein=90)  # 90 < 100
    FoodLogFactory(owner=board.ben, timestamp=board.at(0, 9, 0), protein=45)  # ≥ 40
    FoodLogFactory(owner=board.ben, timestamp=board.at(1, 9, 0), protein=41)  # ≥ 40
    assert board.scores() == {"Ben": 2.0, "Aiko": 1.0}


def test_backdated_workout_logged_after_joining_counts(db, django_capture_on_commit_callbacks):
    board = Board("workout_count")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(board.ben).post(
            "/api/v1/workouts",
            {"name": "Run", "type": "cardio", "completed": True,
             "created_at": board.at(0, 7, 0).isoformat()},
            format="json",
        )  # fmt: skip
    assert response.status_code == 201
    # The write queued the refresh after its commit: the board is already up to date.
    entry = LeaderboardEntry.objects.get(challenge=board.challenge, user=board.ben)
    assert entry.score == 1 and entry.rank == 1


def test_edits_after_the_grace_period_leave_the_final_board(db):
    board = Board("workout_count", target=1)
    board.workout(board.aiko, board.at(0, 12, 0))
    board.refresh()
    # Ended 23 hours ago: still inside the 24-hour grace period, late logs count.
    Challenge.objects.filter(pk=board.challenge.pk).update(
        end_date=timezone.now() - timedelta(hours=23)
    )
    board.workout(board.ben, board.at(0, 13, 0))
    assert board.scores() == {"Aiko": 1.0, "Ben": 1.0}
    # Past the grace period the board is final.
    Challenge.objects.filter(pk=board.challenge.pk).update(
        end_date=timezone.now() - timedelta(hours=25)
    )
    board.workout(board.ben, board.at(0, 14, 0))
    assert not services.refresh_leaderboard(challenge_id=board.challenge.pk)
    assert services.finalize_challenge(challenge_id=board.challenge.pk)
    assert not services.finalize_challenge(challenge_id=board.challenge.pk)
    scores = dict(
        LeaderboardEntry.objects.filter(challenge=board.challenge).values_list("user_id", "score")
    )
    assert scores == {board.aiko.pk: 1, board.ben.pk: 1}
    code = f"challenge_completed:{board.challenge.pk}"
    assert code in get_user_stats(board.aiko)["achievements"]
    assert code in get_user_stats(board.ben)["achievements"]
    body = client_for(board.aiko).get(url(board.group, board.challenge)).json()
    assert body["finalized"] is True and body["status"] == "finished"


def test_leaderboard_hides_whom_the_viewer_blocked_and_only_scores_show(db):
    board = Board("workout_count")
    _standard_workouts(board)
    services.block_user(user=board.aiko, user_id=board.ben.pk)
    rows = board.refresh()
    ben = next(row for row in rows if row["hidden"])
    assert ben["user_id"] is None and ben["display_name"] is None
    assert set(ben) == {"rank", "user_id", "display_name", "hidden", "score", "progress",
                        "completed_at"}  # fmt: skip
    body = client_for(board.aiko).get(url(board.group, board.challenge)).json()
    assert body["participants"] == [str(board.aiko.pk)]


@pytest.mark.parametrize("size", [2, 20])
def test_challenge_list_and_board_use_constant_queries(db, size, django_assert_max_num_queries):
    board = Board("workout_count")
    for _ in range(size):
        user = UserFactory()
        add(board.group, user)
        ChallengeParticipant.objects.create(challenge=board.challenge, user=user)
        services.create_challenge(user=board.owner, group_id=board.group.pk, data=_data())
    services.refresh_leaderboard(challenge_id=board.challenge.pk)
    client = client_for(board.owner)
    with django_assert_max_num_queries(8):
        assert client.get(url(board.group)).status_code == 200
    with django_assert_max_num_queries(8):
        body = client.get(url(board.group, board.challenge)).json()
    assert len(body["leaderboard"]) == size + 2


def test_food_log_changes_refresh_the_board_after_commit(db, django_capture_on_commit_callbacks):
    board = Board("food_logging_days", target=2)
    client = client_for(board.aiko)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/v1/food/logs",
            {"name": "Rice", "calories": 300, "timestamp": board.at(0, 12, 0).isoformat()},
            format="json",
        )
    assert created.status_code == 201
    entry = LeaderboardEntry.objects.get(challenge=board.challenge, user=board.aiko)
    assert entry.score == 1 and entry.rank == 1
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.delete(f"/api/v1/food/logs/{created.json()['id']}")
    assert deleted.status_code == 204
    entry.refresh_from_db()
    assert entry.score == 0


def test_beat_task_finalizes_only_boards_past_their_grace(db):
    from social.tasks import finalize_challenges

    board = Board("workout_count", target=1)
    board.workout(board.aiko, board.at(0, 12, 0))
    board.refresh()
    finalize_challenges()
    assert Challenge.objects.get(pk=board.challenge.pk).finalized_at is None
    Challenge.objects.filter(pk=board.challenge.pk).update(
        end_date=timezone.now() - timedelta(hours=25)
    )
    finalize_challenges()
    assert Challenge.objects.get(pk=board.challenge.pk).finalized_at is not None
    stats = client_for(board.aiko).get("/api/v1/users/stats").json()
    assert f"challenge_completed:{board.challenge.pk}" in stats["achievements"]
    assert not any(
        code.startswith("challenge_") for code in get_user_stats(board.ben)["achievements"]
    )
