from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from accounts.models import PasswordResetCode
from accounts.tasks import flush_expired_tokens
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_flush_expired_tokens_removes_only_expired(user):
    RefreshToken.for_user(user)
    expired = RefreshToken.for_user(user)
    OutstandingToken.objects.filter(jti=expired["jti"]).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    flush_expired_tokens()
    assert not OutstandingToken.objects.filter(jti=expired["jti"]).exists()
    assert OutstandingToken.objects.filter(user=user).count() == 1


def test_flush_expired_tokens_removes_expired_reset_codes(user):
    other = UserFactory()
    services.issue_password_reset_code(user=user)
    services.issue_password_reset_code(user=other)
    PasswordResetCode.objects.filter(user=user).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    flush_expired_tokens()
    assert list(PasswordResetCode.objects.values_list("user", flat=True)) == [other.pk]
