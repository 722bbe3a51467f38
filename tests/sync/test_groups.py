"""Workouts read through a group arrive in a member's pulls with everything under them, and
leave as deleted when that access ends: leaving, removal, the group deleted, the owner
unlinking the workout, a block, the group hidden. Access that begins again brings them
back although the workouts themselves did not change."""

from datetime import timedelta

import pytest
from django.utils import timezone

from social import services as social_services
from tests.conftest import client_for
from tests.factories import UserFactory, connect
from tests.social.conftest import add, make_group
from tests.sync.helpers import Listener as SyncListener
from tests.sync.helpers import Replica
from tests.sync.test_events import assert_quiet
from tests.workouts.factories import create_workout, exercise_payload
from workouts import services as workout_services
from workouts.models import Exercise

# Markers are transaction ids: incremental pulls are only meaningful across real commits.
pytestmark = pytest.mark.django_db(transaction=True)

TREE = ("workouts", "exercises")


class Scene:
    """An owner with a workout linked to their group, a member of it with a device."""

    def __init__(self) -> None:
        self.owner = UserFactory()
        self.member = UserFactory()
        self.group = make_group(self.owner)
        self.membership = add(self.group, self.member)
        self.workout = create_workout(self.owner, group_id=str(self.group.pk))
        self.exercises = {
            str(pk)
            for pk in Exercise.objects.filter(workout=self.workout).values_list("pk", flat=True)
        }
        self.client = client_for(self.member)
        self.device = Replica()

    def sync(self) -> dict:
        return self.device.sync(self.client)

    def sees_workout(self) -> bool:
        return str(self.workout.pk) in self.device.ids("workouts")

    def assert_gone(self, pulled: dict) -> None:
        assert str(self.workout.pk) in pulled["changes"]["workouts"]["deleted"]
        assert self.exercises <= set(pulled["changes"]["exercises"]["deleted"])
        assert self.device.ids("workouts") == set()
        assert self.device.ids("exercises") == set()


@pytest.fixture
def scene() -> Scene:
    return Scene()


def test_a_members_pull_brings_the_groups_workouts_with_their_exercises(scene):
    scene.sync()

    record = scene.device.tables["workouts"][str(scene.workout.pk)]
    assert record["group_id"] == str(scene.group.pk)
    assert record["owner_id"] == str(scene.owner.pk)
    assert record["shared_with"] == "[]"
    assert scene.device.ids("exercises") == scene.exercises


def test_a_workout_leaves_when_the_member_leaves_and_returns_when_they_rejoin(scene):
    scene.sync()

    social_services.remove_member(
        user=scene.member, group_id=scene.group.pk, user_id=scene.member.pk
    )
    scene.assert_gone(scene.sync())

    add(scene.group, scene.member)
    pulled = scene.sync()
    assert [r["id"] for r in pulled["changes"]["workouts"]["updated"]] == [str(scene.workout.pk)]
    assert scene.device.ids("exercises") == scene.exercises


def test_a_workout_leaves_a_removed_member(scene):
    scene.sync()

    social_services.remove_member(
        user=scene.owner, group_id=scene.group.pk, user_id=scene.member.pk
    )

    scene.assert_gone(scene.sync())


def test_a_workout_leaves_when_the_group_is_deleted_and_stays_with_its_owner(scene):
    scene.sync()
    owner_device = Replica()
    owner_client = client_for(scene.owner)
    owner_device.sync(owner_client)

    social_services.delete_group(user=scene.owner, group_id=scene.group.pk)

    scene.assert_gone(scene.sync())
    owner_pull = owner_device.sync(owner_client)
    assert owner_pull["changes"]["workouts"]["deleted"] == []
    assert owner_device.tables["workouts"][str(scene.workout.pk)]["group_id"] is None


def test_a_workout_leaves_when_its_owner_unlinks_it_from_the_group(scene):
    scene.sync()

    workout_services.update_workout(
        owner=scene.owner, workout_id=scene.workout.pk, data={"group_id": None}
    )

    scene.assert_gone(scene.sync())


def test_the_owners_workouts_leave_when_the_owner_leaves(scene):
    heir = scene.member
    social_services.update_member(
        user=scene.owner, group_id=scene.group.pk, user_id=heir.pk, role="owner"
    )
    scene.sync()

    social_services.remove_member(user=scene.owner, group_id=scene.group.pk, user_id=scene.owner.pk)

    scene.assert_gone(scene.sync())


def test_a_block_takes_the_workout_away_and_an_unblock_brings_it_back(scene):
    scene.sync()

    social_services.block_user(user=scene.member, user_id=scene.owner.pk)
    scene.assert_gone(scene.sync())

    social_services.unblock_user(user=scene.member, user_id=scene.owner.pk)
    scene.sync()
    assert scene.sees_workout() and scene.device.ids("exercises") == scene.exercises


def test_a_hidden_group_takes_its_workouts_away_until_it_is_shown(scene):
    scene.sync()

    social_services.set_group_hidden(group_ids=[scene.group.pk], hidden=True)
    scene.assert_gone(scene.sync())

    social_services.set_group_hidden(group_ids=[scene.group.pk], hidden=False)
    scene.sync()
    assert scene.sees_workout()


def test_exercises_replaced_by_an_edit_leave_the_members_device(scene):
    scene.sync()

    workout_services.update_workout(
        owner=scene.owner,
        workout_id=scene.workout.pk,
        data={"exercises": [exercise_payload("Squat", sets=5, reps=5)]},
    )
    pulled = scene.sync()

    assert scene.exercises <= set(pulled["changes"]["exercises"]["deleted"])
    assert [e["name"] for e in scene.device.tables["exercises"].values()] == ["Squat"]


def test_a_workout_still_shared_with_a_member_who_leaves_stays(scene):
    connect(scene.owner, scene.member)
    workout_services.update_workout(
        owner=scene.owner, workout_id=scene.workout.pk, data={"shared_with": [scene.member.pk]}
    )
    scene.sync()

    social_services.remove_member(
        user=scene.member, group_id=scene.group.pk, user_id=scene.member.pk
    )
    pulled = scene.sync()

    assert pulled["changes"]["workouts"]["deleted"] == []
    assert pulled["changes"]["exercises"]["deleted"] == []
    assert scene.sees_workout() and scene.device.ids("exercises") == scene.exercises


def test_no_group_workout_reaches_anyone_who_may_not_read_it(scene):
    invited, outsider, lone = UserFactory(), UserFactory(), UserFactory()
    add(scene.group, invited, status="invited")
    # A workout linked to a group its owner is no longer active in is nobody else's.
    add(scene.group, lone)
    lone_workout = create_workout(lone, group_id=str(scene.group.pk))
    social_services.remove_member(user=lone, group_id=scene.group.pk, user_id=lone.pk)
    scene.sync()

    assert scene.device.ids("workouts") == {str(scene.workout.pk)}
    for user in (invited, outsider):
        device = Replica()
        device.sync(client_for(user))
        assert all(device.ids(table) == set() for table in TREE), user
    assert str(lone_workout.pk) not in scene.device.ids("workouts")


# --- live events -------------------------------------------------------------------------


class Listener(SyncListener):
    """Only `sync.changed`: the social app's own events (group.invited, ...) are theirs."""

    def next(self, timeout: float = 2.0) -> dict | None:
        while (event := super().next(timeout)) is not None and event["type"] != "sync.changed":
            pass
        return event


def test_a_group_workout_edit_reaches_every_member_once(scene):
    other = UserFactory()
    add(scene.group, other)
    invited, stranger = UserFactory(), UserFactory()
    add(scene.group, invited, status="invited")
    listeners = {
        who: Listener(who) for who in (scene.owner, scene.member, other, invited, stranger)
    }

    workout_services.update_workout(
        owner=scene.owner, workout_id=scene.workout.pk, data={"name": "Leg day"}
    )

    for who in (scene.owner, scene.member, other):
        event = listeners[who].next()
        assert event["type"] == "sync.changed" and "workouts" in event["tables"]
        assert_quiet(listeners[who])
    assert_quiet(listeners[invited])
    assert_quiet(listeners[stranger])


def test_unlinking_a_workout_tells_the_members_who_lose_it(scene):
    member = Listener(scene.member)

    workout_services.update_workout(
        owner=scene.owner, workout_id=scene.workout.pk, data={"group_id": None}
    )

    assert "workouts" in member.next()["tables"]
    assert_quiet(member)


def test_a_join_is_one_event_per_member_and_an_invitation_only_the_invitees(scene):
    joiner, invitee, stranger = UserFactory(), UserFactory(), UserFactory()
    connect(scene.owner, invitee)
    listeners = {
        who: Listener(who) for who in (scene.owner, scene.member, joiner, invitee, stranger)
    }

    social_services.add_member(user=scene.owner, group_id=scene.group.pk, user_id=invitee.pk)
    assert set(listeners[invitee].next()["tables"]) >= {"groups", "group_members"}
    assert_quiet(listeners[invitee])
    assert_quiet(listeners[scene.member])

    # Fresh listeners: a channels-redis receive that timed out binds its queue to that loop.
    listeners = {who: Listener(who) for who in (scene.owner, scene.member, joiner, stranger)}
    add(scene.group, joiner)
    for who in (scene.owner, scene.member, joiner):
        tables = listeners[who].next()["tables"]
        assert {"groups", "group_members", "workouts"} <= set(tables)
        assert_quiet(listeners[who])
    assert_quiet(listeners[stranger])


def test_deleting_a_group_is_one_event_for_each_member(scene):
    listeners = {who: Listener(who) for who in (scene.owner, scene.member)}

    social_services.delete_group(user=scene.owner, group_id=scene.group.pk)

    for who in (scene.owner, scene.member):
        assert {"groups", "group_members", "workouts"} <= set(listeners[who].next()["tables"])
        assert_quiet(listeners[who])


def test_connections_and_challenges_are_news_for_who_reads_them(scene):
    other, stranger = UserFactory(), UserFactory()
    listeners = {who: Listener(who) for who in (scene.owner, scene.member, other, stranger)}

    social_services.request_connection(user=other, user_id=scene.member.pk)
    assert listeners[other].next()["tables"] == ["connections"]
    assert listeners[scene.member].next()["tables"] == ["connections"]
    assert_quiet(listeners[scene.owner])

    listeners = {who: Listener(who) for who in (scene.owner, scene.member, other, stranger)}
    start = timezone.now() + timedelta(days=1)
    social_services.create_challenge(
        user=scene.owner,
        group_id=scene.group.pk,
        data={
            "name": "Move",
            "type": "workout_count",
            "goals": {"target": 3, "unit": "workouts"},
            "start_date": start,
            "end_date": start + timedelta(days=7),
        },
    )
    for who in (scene.owner, scene.member):
        assert "challenges" in listeners[who].next()["tables"]
        assert_quiet(listeners[who])
    assert_quiet(listeners[other])
    assert_quiet(listeners[stranger])
