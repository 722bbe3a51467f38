"""Groups and their members: every verb for every relation to the group, the role
transitions, the settings, and the race for the last seat."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from social import services
from social.models import (
    Challenge,
    ChallengeParticipant,
    Group,
    GroupMembership,
    MemberStatus,
    Role,
)
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.factories import UserFactory, connect
from tests.social.conftest import Cast, add, make_group

URL = "/api/v1/groups"
WHO = ["outsider", "invited", "requested", "member", "admin", "owner", "blocked", "staff"]


def _challenge_payload() -> dict:
    now = timezone.now()
    return {
        "name": "Move",
        "type": "workout_count",
        "goals": {"target": 5},
        "start_date": now.isoformat(),
        "end_date": (now + timedelta(days=7)).isoformat(),
    }


def _call(cast: Cast, who: str, verb: str):
    client = cast.client(who)
    group = f"{URL}/{cast.group.pk}"
    challenge = f"{group}/challenges/{cast.challenge.pk}" if cast.challenge else None
    if verb == "get":
        return client.get(group)
    if verb == "put":
        return client.put(group, {"name": "Renamed"}, format="json")
    if verb == "delete":
        return client.delete(group)
    if verb == "members":
        return client.get(f"{group}/members")
    if verb == "challenges":
        return client.get(f"{group}/challenges")
    if verb == "create_challenge":
        return client.post(f"{group}/challenges", _challenge_payload(), format="json")
    if verb == "challenge":
        return client.get(challenge)
    if verb == "update_challenge":
        return client.put(challenge, {"name": "Renamed"}, format="json")
    if verb == "join_challenge":
        return client.post(f"{challenge}/participants")
    if verb == "approve":
        return client.patch(f"{group}/members/{cast.requested.pk}", {"status": "active"}, "json")
    if verb == "remove_member":
        return client.delete(f"{group}/members/{cast.other_member.pk}")
    if verb == "promote":
        return client.patch(f"{group}/members/{cast.other_member.pk}", {"role": "admin"}, "json")
    raise AssertionError(verb)


_CHALLENGE_VERBS = {"challenge", "update_challenge", "join_challenge"}


# outsider, invited, requested, member, admin, owner, blocked, staff
PRIVATE = {
    "get": [404, 200, 200, 200, 200, 200, 404, 200],
    "members": [404, 200, 200, 200, 200, 200, 404, 200],
    "challenges": [404, 200, 200, 200, 200, 200, 404, 200],
    "put": [404, 403, 403, 403, 200, 200, 404, 403],
    "create_challenge": [404, 403, 403, 403, 201, 201, 404, 403],
    "challenge": [404, 200, 200, 200, 200, 200, 404, 200],
    "update_challenge": [404, 403, 403, 403, 200, 200, 404, 403],
    "join_challenge": [404, 403, 403, 201, 201, 201, 404, 403],
    "approve": [404, 403, 403, 404, 200, 200, 404, 403],
    "remove_member": [404, 403, 403, 403, 204, 204, 404, 403],
    "promote": [404, 403, 403, 403, 403, 200, 404, 403],
    "delete": [404, 403, 403, 403, 403, 204, 404, 403],
}
PUBLIC = {
    "get": [200] * 8,
    "members": [200] * 8,
    "challenges": [200] * 8,
    "put": [403, 403, 403, 403, 200, 200, 403, 403],
    "create_challenge": [403, 403, 403, 403, 201, 201, 403, 403],
    "challenge": [200] * 8,
    "update_challenge": [403, 403, 403, 403, 200, 200, 403, 403],
    "join_challenge": [403, 403, 403, 201, 201, 201, 403, 403],
    "approve": [403, 403, 403, 404, 200, 200, 403, 403],
    "remove_member": [403, 403, 403, 403, 204, 204, 403, 403],
    "promote": [403, 403, 403, 403, 403, 200, 403, 403],
    "delete": [403, 403, 403, 403, 403, 204, 403, 403],
}
_CODES = {403: "forbidden", 404: "not_found"}


def _cases(table: dict, visibility: str):
    for verb, statuses in table.items():
        for who, status in zip(WHO, statuses, strict=True):
            yield pytest.param(visibility, verb, who, status, id=f"{visibility}-{verb}-{who}")


@pytest.mark.parametrize(
    ("visibility", "verb", "who", "status"),
    [*_cases(PRIVATE, "private"), *_cases(PUBLIC, "public")],
)
def test_access_matrix(db, visibility, verb, who, status):
    cast = Cast(visibility=visibility, join_policy="approval")
    cast.other_member = UserFactory()
    add(cast.group, cast.other_member)
    cast.challenge = None
    if verb in _CHALLENGE_VERBS:
        cast.challenge = services.create_challenge(
            user=cast.owner, group_id=cast.group.pk, data=_challenge_data()
        )
    memberships = _memberships(cast.group)

    response = _call(cast, who, verb)

    assert response.status_code == status, response.content
    if status >= 400:
        assert_error(response, status, _CODES[status])
        group = Group.objects.filter(pk=cast.group.pk).first()
        assert group is not None and group.name == "Runners"
        assert _memberships(cast.group) == memberships
        assert list(Challenge.objects.values_list("name", flat=True)) == (
            ["c"] if cast.challenge else []
        )
        assert not ChallengeParticipant.objects.exists()


def _memberships(group) -> set:
    return set(GroupMembership.objects.filter(group=group).values_list("user_id", "role", "status"))


def _challenge_data() -> dict:
    return {
        "name": "c",
        "type": "workout_count",
        "goals": {"target": 1, "unit": "workouts"},
        "timezone": "UTC",
        "start_date": timezone.now(),
        "end_date": timezone.now() + timedelta(days=1),
    }


def test_hidden_group_answers_404_to_everyone_but_staff(cast):
    Group.objects.filter(pk=cast.group.pk).update(hidden=True)
    for who in ("owner", "admin", "member"):
        assert_error(cast.client(who).get(f"{URL}/{cast.group.pk}"), 404, "not_found")
    assert cast.client("staff").get(f"{URL}/{cast.group.pk}").status_code == 200
    assert cast.client("owner").get(URL).json()["total"] == 0


def test_create_returns_group_response_with_owner(db):
    owner = UserFactory(display_name="Olga")
    response = client_for(owner).post(
        URL,
        {"name": "Lifters", "description": "Heavy", "settings": {"visibility": "public"}},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"group", "members", "challenges"}
    group = body["group"]
    assert group["name"] == "Lifters" and group["created_by"] == str(owner.pk)
    assert group["settings"] == {
        "visibility": "public",
        "join_policy": "invite_only",
        "max_members": 100,
        "members_can_invite": False,
    }
    assert group["membership"] == {"role": "owner", "status": "active"}
    assert group["member_count"] == 1
    [member] = body["members"]
    assert set(member) == {"user_id", "role", "joined_at", "status", "user"}
    assert member["role"] == "owner" and member["user"]["display_name"] == "Olga"
    assert body["challenges"] == []


@pytest.mark.parametrize(
    "settings",
    [
        {"max_members": 1001},
        {"max_members": 1},
        {"visibility": "secret"},
        {"join_policy": "anyone"},
        {"colour": "red"},
        {"members_can_invite": "maybe"},
    ],
)
def test_create_refuses_bad_settings(db, settings):
    response = client_for(UserFactory()).post(
        URL, {"name": "X", "settings": settings}, format="json"
    )
    error = assert_error(response, 400, "validation_error")
    assert "settings" in error["details"]["fields"]
    assert not Group.objects.exists()


def test_update_merges_settings_and_refuses_a_limit_below_the_members(cast):
    client = cast.client("admin")
    response = client.put(
        f"{URL}/{cast.group.pk}", {"settings": {"members_can_invite": True}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["group"]["settings"]["members_can_invite"] is True
    assert response.json()["group"]["settings"]["max_members"] == 100
    too_small = client.put(f"{URL}/{cast.group.pk}", {"settings": {"max_members": 2}}, "json")
    assert_error(too_small, 400, "validation_error")
    assert Group.objects.get(pk=cast.group.pk).max_members == 100


def test_list_mine_and_discover_public(db):
    me = UserFactory()
    mine = make_group(me)
    public = make_group(UserFactory(), visibility="public")
    public.name = "Sunday runners"
    public.save()
    make_group(UserFactory())  # private: never discovered
    client = client_for(me)

    listed = client.get(URL).json()
    assert [item["id"] for item in listed["items"]] == [str(mine.pk)]
    found = client.get(URL, {"discover": "true", "q": "sunday"}).json()
    assert [item["id"] for item in found["items"]] == [str(public.pk)]
    assert found["items"][0]["membership"] is None


def test_delete_removes_memberships_and_challenges(cast):
    services.create_challenge(
        user=cast.owner,
        group_id=cast.group.pk,
        data={
            "name": "c",
            "type": "workout_count",
            "goals": {"target": 1, "unit": "workouts"},
            "timezone": "UTC",
            "start_date": timezone.now(),
            "end_date": timezone.now() + timedelta(days=1),
        },
    )
    assert cast.client("owner").delete(f"{URL}/{cast.group.pk}").status_code == 204
    assert not GroupMembership.objects.exists() and not Challenge.objects.exists()


# --- members ---------------------------------------------------------------------------


def members_url(group) -> str:
    return f"{URL}/{group.pk}/members"


def test_join_open_group_then_again_is_200(db):
    group = make_group(UserFactory(), visibility="public", join_policy="open")
    joiner = UserFactory()
    first = client_for(joiner).post(members_url(group), {"user_id": str(joiner.pk)}, "json")
    assert first.status_code == 201
    assert first.json()["status"] == "active" and first.json()["role"] == "member"
    assert first.json()["joined_at"]
    again = client_for(joiner).post(members_url(group), {"user_id": str(joiner.pk)}, "json")
    assert again.status_code == 200


def test_join_approval_group_requests_and_admin_approves(db):
    owner = UserFactory()
    group = make_group(owner, visibility="public", join_policy="approval")
    joiner, member = UserFactory(), UserFactory()
    add(group, member)
    response = client_for(joiner).post(members_url(group), {"user_id": str(joiner.pk)}, "json")
    assert response.status_code == 201 and response.json()["status"] == "requested"

    by_member = client_for(member).patch(
        f"{members_url(group)}/{joiner.pk}", {"status": "active"}, format="json"
    )
    assert_error(by_member, 404, "not_found")  # members do not see requests
    approved = client_for(owner).patch(
        f"{members_url(group)}/{joiner.pk}", {"status": "active"}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["status"] == "active"


def test_join_invite_only_without_invitation_is_403(db):
    group = make_group(UserFactory(), visibility="public", join_policy="invite_only")
    joiner = UserFactory()
    response = client_for(joiner).post(members_url(group), {"user_id": str(joiner.pk)}, "json")
    assert_error(response, 403, "forbidden")
    assert not GroupMembership.objects.filter(user=joiner).exists()


def test_invite_a_connection_who_then_accepts(cast):
    friend = UserFactory()
    connect(cast.admin, friend)
    invited = cast.client("admin").post(
        members_url(cast.group), {"user_id": str(friend.pk)}, format="json"
    )
    assert invited.status_code == 201 and invited.json()["status"] == "invited"
    accepted = client_for(friend).post(
        members_url(cast.group), {"user_id": str(friend.pk)}, format="json"
    )
    assert accepted.status_code == 201 and accepted.json()["status"] == "active"


def test_invite_of_a_non_connection_is_400(cast):
    stranger = UserFactory()
    response = cast.client("admin").post(
        members_url(cast.group), {"user_id": str(stranger.pk)}, format="json"
    )
    assert_error(response, 400, "not_connected")
    assert not GroupMembership.objects.filter(user=stranger).exists()


def test_members_invite_only_when_the_group_allows_it(cast):
    friend = UserFactory()
    connect(cast.member, friend)
    url = members_url(cast.group)
    refused = cast.client("member").post(url, {"user_id": str(friend.pk)}, format="json")
    assert_error(refused, 403, "forbidden")
    cast.group.settings = {**cast.group.settings, "members_can_invite": True}
    cast.group.save()
    allowed = cast.client("member").post(url, {"user_id": str(friend.pk)}, format="json")
    assert allowed.status_code == 201


def test_invited_declines_and_requested_withdraws(cast):
    url = members_url(cast.group)
    assert cast.client("invited").delete(f"{url}/{cast.invited.pk}").status_code == 204
    assert cast.client("requested").delete(f"{url}/{cast.requested.pk}").status_code == 204
    assert not GroupMembership.objects.filter(user__in=[cast.invited, cast.requested]).exists()


def test_owner_cannot_leave_and_ownership_moves(cast):
    url = members_url(cast.group)
    assert_error(cast.client("owner").delete(f"{url}/{cast.owner.pk}"), 409, "owner_must_remain")
    assert_error(
        cast.client("owner").patch(f"{url}/{cast.owner.pk}", {"role": "member"}, format="json"),
        409,
        "owner_must_remain",
    )
    moved = cast.client("owner").patch(f"{url}/{cast.member.pk}", {"role": "owner"}, "json")
    assert moved.status_code == 200 and moved.json()["role"] == "owner"
    roles = dict(GroupMembership.objects.filter(group=cast.group).values_list("user_id", "role"))
    assert roles[cast.owner.pk] == Role.ADMIN and roles[cast.member.pk] == Role.OWNER
    assert list(roles.values()).count(Role.OWNER) == 1
    assert cast.client("owner").delete(f"{url}/{cast.owner.pk}").status_code == 204


def test_only_the_owner_changes_roles(cast):
    url = f"{members_url(cast.group)}/{cast.member.pk}"
    assert_error(
        cast.client("admin").patch(url, {"role": "admin"}, format="json"), 403, "forbidden"
    )
    assert_error(
        cast.client("member").patch(url, {"role": "admin"}, format="json"), 403, "forbidden"
    )
    promoted = cast.client("owner").patch(url, {"role": "admin"}, format="json")
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    demoted = cast.client("owner").patch(url, {"role": "member"}, format="json")
    assert demoted.json()["role"] == "member"
    bad = cast.client("owner").patch(url, {"status": "invited"}, format="json")
    assert_error(bad, 400, "validation_error")
    assert_error(cast.client("owner").patch(url, {}, format="json"), 400, "validation_error")


def test_removal_rules(cast):
    url = members_url(cast.group)
    other_admin = UserFactory()
    add(cast.group, other_admin, role=Role.ADMIN)
    assert_error(cast.client("member").delete(f"{url}/{cast.admin.pk}"), 403, "forbidden")
    assert_error(cast.client("admin").delete(f"{url}/{other_admin.pk}"), 403, "forbidden")
    assert_error(cast.client("admin").delete(f"{url}/{cast.owner.pk}"), 403, "forbidden")
    assert_error(cast.client("outsider").delete(f"{url}/{cast.member.pk}"), 404, "not_found")
    assert cast.client("admin").delete(f"{url}/{cast.member.pk}").status_code == 204
    assert cast.client("owner").delete(f"{url}/{other_admin.pk}").status_code == 204
    assert cast.client("admin").delete(f"{url}/{cast.requested.pk}").status_code == 204
    assert_error(cast.client("admin").delete(f"{url}/{cast.member.pk}"), 404, "not_found")


def test_full_group_refuses_the_next_join(db):
    group = make_group(UserFactory(), visibility="public", join_policy="open", max_members=2)
    first, second = UserFactory(), UserFactory()
    url = members_url(group)
    assert client_for(first).post(url, {"user_id": str(first.pk)}, "json").status_code == 201
    full = client_for(second).post(url, {"user_id": str(second.pk)}, "json")
    assert_error(full, 409, "group_full")
    assert not GroupMembership.objects.filter(user=second).exists()


def test_members_list_hides_the_blocker_from_the_blocked(public_cast):
    listed = public_cast.client("blocked").get(members_url(public_cast.group)).json()
    owner_row = next(row for row in listed["items"] if row["role"] == "owner")
    assert owner_row["user_id"] is None and owner_row["user"]["hidden"] is True
    assert owner_row["user"]["display_name"] is None
    by_member = public_cast.client("member").get(members_url(public_cast.group)).json()
    statuses = {row["status"] for row in by_member["items"]}
    assert statuses == {"active"}
    by_admin = public_cast.client("admin").get(members_url(public_cast.group)).json()
    assert {row["status"] for row in by_admin["items"]} == {"active", "invited", "requested"}


def test_block_removes_group_invitations_between_the_two(db):
    owner, friend = UserFactory(), UserFactory()
    connect(owner, friend)
    group = make_group(owner)
    client_for(owner).post(members_url(group), {"user_id": str(friend.pk)}, format="json")
    client_for(friend).post("/api/v1/users/blocks", {"user_id": str(owner.pk)}, format="json")
    assert not GroupMembership.objects.filter(user=friend).exists()


@pytest.mark.parametrize("size", [3, 30])
def test_group_detail_and_members_list_use_constant_queries(
    db, size, django_assert_max_num_queries
):
    owner = UserFactory()
    group = make_group(owner, visibility="public")
    for _ in range(size):
        add(group, UserFactory())
    for index in range(size // 3):
        services.create_challenge(
            user=owner,
            group_id=group.pk,
            data={
                "name": f"c{index}",
                "type": "workout_count",
                "goals": {"target": 1, "unit": "workouts"},
                "timezone": "UTC",
                "start_date": timezone.now(),
                "end_date": timezone.now() + timedelta(days=1),
            },
        )
    client = client_for(owner)
    with django_assert_max_num_queries(10):
        assert client.get(f"{URL}/{group.pk}").status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get(members_url(group), {"page_size": 100}).status_code == 200


# --- the race for the last seat ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_joins_racing_for_the_last_seat_one_wins():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks between parallel connections")
    group = make_group(UserFactory(), visibility="public", join_policy="open", max_members=2)
    racers = [UserFactory(), UserFactory()]
    clients = [client_for(user) for user in racers]
    start = threading.Barrier(len(racers))
    statuses: list[int] = []

    def join(client, user):
        try:
            start.wait()
            response = client.post(members_url(group), {"user_id": str(user.pk)}, "json")
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=join, args=pair) for pair in zip(clients, racers, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(statuses) == [201, 409]
    active = GroupMembership.objects.filter(group=group, status=MemberStatus.ACTIVE).count()
    assert active == 2


_SOME = "00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", URL),
        ("post", URL),
        ("get", f"{URL}/{_SOME}"),
        ("put", f"{URL}/{_SOME}"),
        ("delete", f"{URL}/{_SOME}"),
        ("get", f"{URL}/{_SOME}/members"),
        ("post", f"{URL}/{_SOME}/members"),
        ("patch", f"{URL}/{_SOME}/members/{_SOME}"),
        ("delete", f"{URL}/{_SOME}/members/{_SOME}"),
        ("get", f"{URL}/{_SOME}/challenges"),
        ("post", f"{URL}/{_SOME}/challenges"),
        ("get", f"{URL}/{_SOME}/challenges/{_SOME}"),
        ("put", f"{URL}/{_SOME}/challenges/{_SOME}"),
        ("post", f"{URL}/{_SOME}/challenges/{_SOME}/participants"),
        ("delete", f"{URL}/{_SOME}/challenges/{_SOME}/participants"),
    ],
)
def test_anonymous_gets_401(api_client, db, method, path):
    assert_error(getattr(api_client, method)(path), 401, "not_authenticated")


def test_unknown_group_is_404_like_a_private_one(cast):
    client = cast.client("outsider")
    unknown = client.get(f"{URL}/{_SOME}")
    private = client.get(f"{URL}/{cast.group.pk}")
    assert unknown.status_code == private.status_code == 404
    assert unknown.json()["error"]["code"] == private.json()["error"]["code"] == "not_found"
