import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from accounts import services
from accounts.models import LoginAttemptWindow, PasswordResetCode, TokenFamily

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_password_reset_email(user_id: str) -> None:
    # The code is made here, not by the request, so it never travels through the broker.
    services.send_password_reset_code(user_id=user_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_account_deleted_email(email: str, name: str) -> None:
    # The account is gone by now: the address and name travel with the task.
    services.send_account_deleted_notice(email=email, name=name)


@shared_task
def build_data_export(export_id: str) -> None:
    services.build_data_export(export_id=export_id)


@shared_task
def flush_expired_tokens() -> None:
    """Nightly: drops refresh tokens that have expired anyway, the families none of whose
    tokens can still be valid, login-attempt windows that have ended and expired reset
    codes."""
    call_command("flushexpiredtokens")
    now = timezone.now()
    TokenFamily.objects.filter(
        last_rotated_at__lt=now - settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    ).delete()
    LoginAttemptWindow.objects.filter(
        window_started_at__lt=now - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    ).delete()
    PasswordResetCode.objects.filter(expires_at__lt=now).delete()
