import pytest

from social import services
from social.errors import OwnerMustRemain
from social.models import Block, Connection, Group, GroupMembership
from tests.factories import UserFactory, connect
from tests.social.conftest import Cast


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_group_changelist_is_searchable_and_change_page_shows_inlines(staff_client, cast):
    listed = staff_client.get("/admin/social/group/", {"q": "Runners"})
    assert listed.status_code == 200 and b"Runners" in listed.content
    missing = staff_client.get("/admin/social/group/", {"q": "Swimmers"})
    assert b"Runners" not in missing.content
    page = staff_client.get(f"/admin/social/group/{cast.group.pk}/change/")
    assert page.status_code == 200
    assert b"memberships-TOTAL_FORMS" in page.content
    assert b"challenges-TOTAL_FORMS" in page.content


def test_hide_action_makes_the_group_404_for_members(staff_client, cast):
    response = staff_client.post(
        "/admin/social/group/",
        {"action": "hide", "_selected_action": [str(cast.group.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert Group.objects.get(pk=cast.group.pk).hidden is True
    assert cast.client("member").get(f"/api/v1/groups/{cast.group.pk}").status_code == 404


def test_staff_remove_a_member_but_never_the_owner(db):
    cast = Cast()
    member = GroupMembership.objects.get(group=cast.group, user=cast.member)
    owner = GroupMembership.objects.get(group=cast.group, user=cast.owner)
    services.staff_remove_member(membership_id=member.pk)
    assert not GroupMembership.objects.filter(pk=member.pk).exists()
    with pytest.raises(OwnerMustRemain):
        services.staff_remove_member(membership_id=owner.pk)
    assert GroupMembership.objects.filter(pk=owner.pk).exists()


def test_connections_and_blocks_are_read_only(staff_client):
    a, b = UserFactory(), UserFactory()
    connection = connect(a, b)
    block = Block.objects.create(blocker=a, blocked=UserFactory())
    assert staff_client.get("/admin/social/connection/").status_code == 200
    assert staff_client.get("/admin/social/block/").status_code == 200
    assert staff_client.get("/admin/social/connection/add/").status_code == 403
    assert staff_client.get(f"/admin/social/block/{block.pk}/delete/").status_code == 403
    staff_client.post(f"/admin/social/connection/{connection.pk}/change/", {"status": "pending"})
    assert Connection.objects.get(pk=connection.pk).status == "accepted"
