from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tasks import flush_expired_tokens
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


def test_flush_expired_tokens_removes_only_expired(user):
    RefreshToken.for_user(user)
    expired = RefreshToken.for_user(user)
    OutstandingToken.objects.filter(jti=expired["jti"]).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    flush_expired_tokens()
    assert not OutstandingToken.objects.filter(jti=expired["jti"]).exists()
    assert OutstandingToken.objects.filter(user=user).count() == 1
