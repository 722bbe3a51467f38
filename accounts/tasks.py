import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.core.management import call_command
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import LoginAttemptWindow, TokenFamily, User

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_password_reset_email(user_id: str) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    context = {
        "user": user,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    send_mail(
        subject="Reset your Future Fitness password",
        message=render_to_string("accounts/password_reset_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )


@shared_task
def flush_expired_tokens() -> None:
    """Nightly: drops refresh tokens that have expired anyway, the families none of whose
    tokens can still be valid, and login-attempt windows that have ended."""
    call_command("flushexpiredtokens")
    now = timezone.now()
    TokenFamily.objects.filter(
        last_rotated_at__lt=now - settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    ).delete()
    LoginAttemptWindow.objects.filter(
        window_started_at__lt=now - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    ).delete()
