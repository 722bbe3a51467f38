"""What guards the admin: its site (a TOTP code on top of the password when
ADMIN_REQUIRE_2FA is on) and the glue that points django-axes at the admin login only."""

import ipaddress
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.throttling import BaseThrottle

from accounts.models import normalize_email
from fitness.observability.metrics import LOGIN_FAILURES, LOGIN_LOCKOUTS


class TOTPAdminAuthenticationForm(OTPAdminAuthenticationForm):
    """django-otp's admin login form; a staff member with a single authenticator needs not
    pick it from a list first, so password and code go in one submit."""

    def _chosen_device(self, user):
        device = super()._chosen_device(user)
        if device is None and not self.cleaned_data.get("otp_device"):
            devices = list(TOTPDevice.objects.devices_for_user(user, confirmed=True)[:2])
            if len(devices) == 1:
                device = devices[0]
        return device


class FitnessAdminSite(OTPAdminSite):
    """The one admin site. ADMIN_REQUIRE_2FA is read per request, not at import, so the
    setting is honoured wherever it is changed (tests override it)."""

    # The admin index plus a link to the product dashboard (analytics).
    index_template = "admin/fitness_index.html"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    @property
    def login_form(self):
        return (
            TOTPAdminAuthenticationForm if settings.ADMIN_REQUIRE_2FA else AdminAuthenticationForm
        )

    @property
    def login_template(self):
        return OTPAdminSite.login_template if settings.ADMIN_REQUIRE_2FA else None

    def has_permission(self, request: HttpRequest) -> bool:
        if settings.ADMIN_REQUIRE_2FA:
            return super().has_permission(request)
        return AdminSite.has_permission(self, request)


class AdminLoginAxesHandler(AxesDatabaseHandler):
    """Records attempts on the admin login only.

    AXES_ONLY_ADMIN_SITE stops axes refusing logins elsewhere, but its signal handlers would
    still count the API's failed logins (which call authenticate() too) and flag their
    requests locked out; the API has its own lockout (accounts.services.login).
    """

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is not None and self.is_admin_request(request):
            LOGIN_FAILURES.labels(surface="admin", reason="invalid_credentials").inc()
            super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs):
        if request is not None and self.is_admin_request(request):
            super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender, request, user, **kwargs):
        if request is not None and self.is_admin_request(request):
            super().user_logged_out(sender, request, user, **kwargs)


def failure_limit(request: HttpRequest, credentials: dict | None) -> int:
    return settings.LOGIN_MAX_FAILURES


def cool_off(request: HttpRequest | None) -> timedelta:
    return timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """The admin's own page for a locked login, 429 with Retry-After (the longest wait: the
    lock lasts until a whole window passes without an attempt)."""
    seconds = settings.LOGIN_LOCKOUT_SECONDS
    context = {
        "failure_limit": settings.LOGIN_MAX_FAILURES,
        "minutes": max(1, -(-seconds // 60)),
        **admin.site.each_context(request),
    }
    response = render(request, "admin/lockout.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def login_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The e-mail as the login matches it, so case variants share one counter."""
    username = (credentials or {}).get("username") or request.POST.get("username")
    return normalize_email(username)[:255] if username else None


def client_ip(request: HttpRequest) -> str | None:
    """The client IP the API's throttles use (DRF's NUM_PROXIES rule).

    Hand-written around DRF's rule rather than django-ipware so both limits agree on who
    the client is; a forwarded value that is not an address (a hostile header) falls back
    to the peer, since axes stores it in an IP column.
    """
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return request.META.get("REMOTE_ADDR") or None


@receiver(user_locked_out)
def _count_lockout(**_: object) -> None:
    LOGIN_LOCKOUTS.labels(surface="admin").inc()
