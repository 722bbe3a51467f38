import pytest
from django.core import mail

from accounts.models import DeletedAccount, User
from social.models import GroupMembership, Role
from tests.factories import UserFactory
from tests.social.conftest import add, make_group

pytestmark = pytest.mark.django_db


def test_admin_user_list_searches_by_email(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    UserFactory(email="findme@example.com")
    UserFactory(email="other@example.com")
    client.force_login(staff)
    response = client.get("/admin/accounts/user/", {"q": "findme"})
    assert response.status_code == 200
    assert b"findme@example.com" in response.content
    assert b"other@example.com" not in response.content


def test_admin_user_change_page_shows_timestamps_read_only(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    target = UserFactory()
    client.force_login(staff)
    response = client.get(f"/admin/accounts/user/{target.pk}/change/")
    assert response.status_code == 200
    assert b'name="created_at"' not in response.content
    assert b'name="email"' in response.content


def test_admin_deleting_a_user_is_the_account_deletion(client, django_capture_on_commit_callbacks):
    staff = UserFactory(is_staff=True, is_superuser=True)
    target, member = UserFactory(), UserFactory()
    group = make_group(target)
    add(group, member)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/accounts/user/{target.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=target.pk).exists()
    assert DeletedAccount.objects.filter(pk=target.pk).exists()
    assert GroupMembership.objects.get(group=group).user == member  # handed over, not lost
    assert GroupMembership.objects.get(group=group).role == Role.OWNER
    assert [m.to for m in mail.outbox] == [[target.email]]
