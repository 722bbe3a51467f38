import pytest

from tests.factories import UserFactory

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
