"""Remote config: feature flags (waffle's flag, plus platform and app-version rules), the
kill switches (waffle's own Switch), free-form values, the minimum app versions staff raise,
and the audit trail of every change made to them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from waffle.models import AbstractUserFlag

from rollout.versions import Platform, parse_version


def _validate_version(value: str) -> None:
    if value and parse_version(value) is None:
        raise ValidationError(f"{value!r} is not a version such as 2.4.1.")


def _validate_platforms(value: str) -> None:
    unknown = {name.strip() for name in value.split(",") if name.strip()} - set(Platform)
    if unknown:
        raise ValidationError(f"Unknown platforms: {', '.join(sorted(unknown))}.")


class Flag(AbstractUserFlag):
    """waffle's flag (everyone, staff, superusers, listed users and groups, a percentage),
    narrowed by platform and app-version range. The percentage is bucketed by
    `rollout.flags`, not by waffle's cookie: a mobile client keeps no cookie."""

    platforms = models.CharField(
        max_length=64,
        blank=True,
        validators=[_validate_platforms],
        help_text="Comma-separated (ios, android). Empty: every platform.",
    )
    min_app_version = models.CharField(
        max_length=32,
        blank=True,
        validators=[_validate_version],
        help_text="Only for app versions from this one (inclusive). Empty: no lower bound.",
    )
    max_app_version = models.CharField(
        max_length=32,
        blank=True,
        validators=[_validate_version],
        help_text="Only for app versions up to this one (inclusive). Empty: no upper bound.",
    )

    class Meta(AbstractUserFlag.Meta):
        verbose_name = "flag"
        verbose_name_plural = "flags"

    def is_active(self, request, read_only: bool = False) -> bool:
        from rollout.flags import Caller, flag_is_on

        return flag_is_on(self, Caller.from_request(request))


class ConfigValue(models.Model):
    """A remote-config value the app reads (`values` of GET /config)."""

    name = models.SlugField(max_length=100, unique=True)
    value = models.JSONField()
    note = models.TextField(blank=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MinAppVersion(models.Model):
    """A minimum app version raised by staff; the environment's MIN_APP_VERSION_* is the
    floor, so the effective minimum is the higher of the two."""

    platform = models.CharField(max_length=16, choices=Platform.choices, unique=True)
    version = models.CharField(max_length=32, validators=[_validate_version])
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["platform"]
        verbose_name = "minimum app version"

    def __str__(self) -> str:
        return f"{self.platform} ≥ {self.version}"


class ChangeRecord(models.Model):
    """Who changed which flag, switch, value or minimum version, when, from what to what."""

    class Action(models.TextChoices):
        CREATED = "created"
        CHANGED = "changed"
        DELETED = "deleted"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept beside the key: the record outlives the staff account.
    actor_email = models.EmailField(blank=True)
    kind = models.CharField(max_length=64)
    name = models.CharField(max_length=100)
    action = models.CharField(max_length=16, choices=Action.choices)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} {self.action} by {self.actor_email or 'system'}"
