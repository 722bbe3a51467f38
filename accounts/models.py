import secrets
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone as dj_timezone

from fitness.models import SyncVersioned


class ThemeMode(models.TextChoices):
    DARK = "dark"
    LIGHT = "light"
    SYSTEM = "system"


class MeasurementSystem(models.TextChoices):
    METRIC = "metric"
    IMPERIAL = "imperial"


class Gender(models.TextChoices):
    FEMALE = "female"
    MALE = "male"
    NON_BINARY = "non_binary"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


class FitnessGoal(models.TextChoices):
    LOSE_WEIGHT = "lose_weight"
    MAINTAIN_WEIGHT = "maintain_weight"
    GAIN_MUSCLE = "gain_muscle"
    IMPROVE_ENDURANCE = "improve_endurance"
    GENERAL_FITNESS = "general_fitness"


# No 0/O or 1/I/L: codes are read out and typed by hand.
_INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVITE_CODE_LENGTH = 10


def new_invite_code() -> str:
    return "".join(secrets.choice(_INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


def normalize_email(email: str) -> str:
    # The whole address is lowercased, not only the domain: users type their address in
    # whatever case, and two accounts differing only in case are never wanted.
    return email.strip().lower()


class MigrationSource(models.TextChoices):
    """Where an account came from, for the migration off Firebase and Supabase."""

    NONE = "none", "registered here"
    FIREBASE_IMPORT = "firebase_import", "imported from a Firebase Auth export"
    FIREBASE_LAZY = "firebase_lazy", "created at its first Firebase ID token"
    SUPABASE = "supabase", "imported from Supabase"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str) -> "User":
        return self.get(email=normalize_email(username))


class User(AbstractBaseUser, PermissionsMixin, SyncVersioned):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Longer than Django's 128: an imported Firebase hash carries its project's signer key
    # (accounts.hashers), about 230 characters in all.
    password = models.CharField("password", max_length=255)
    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=150)
    display_name = models.CharField(max_length=150, blank=True)
    birthday = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=32, choices=Gender.choices, blank=True)
    # Stored in metric (cm / kg); see fitness.measurements for the wire format.
    height_cm = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    target_weight_kg = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    fitness_goal = models.CharField(max_length=32, choices=FitnessGoal.choices, blank=True)
    preferences = models.JSONField(default=dict, blank=True)

    theme_mode = models.CharField(max_length=10, choices=ThemeMode.choices, default=ThemeMode.DARK)
    notifications_enabled = models.BooleanField(default=True)
    measurement_system = models.CharField(
        max_length=10, choices=MeasurementSystem.choices, default=MeasurementSystem.METRIC
    )
    language = models.CharField(max_length=16, default="en")
    timezone = models.CharField(max_length=64, default="UTC")
    # Booleans; `discoverable` (default true) lets others find the user by exact e-mail.
    privacy_settings = models.JSONField(default=dict, blank=True)
    # Personal code others use to send a connection request (rotatable).
    invite_code = models.CharField(max_length=16, unique=True, default=new_invite_code)

    firebase_uid = models.CharField(max_length=128, null=True, blank=True, unique=True)
    email_verified = models.BooleanField(default=False)
    migration_source = models.CharField(
        max_length=16, choices=MigrationSource.choices, default=MigrationSource.NONE
    )
    # What an imported account brought that has no column (Firebase customAttributes,
    # providers, phone number, photo URL...), kept so that nothing is dropped.
    legacy = models.JSONField(default=dict, blank=True)

    is_active = models.BooleanField(default=True)
    # Every access and refresh token carries the version it was issued under; bumping it
    # (a new password, "log out everywhere") ends every session of the user at once.
    token_version = models.PositiveIntegerField(default=0, editable=False)
    # When the version was last bumped: Firebase ID tokens (which carry no version) from a
    # sign-in before it are refused, as Firebase's own revocation does with `auth_time`.
    sessions_ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=dj_timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(height_cm__gt=0) | models.Q(height_cm__isnull=True),
                name="user_height_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(weight_kg__gt=0) | models.Q(weight_kg__isnull=True),
                name="user_weight_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(target_weight_kg__gt=0)
                | models.Q(target_weight_kg__isnull=True),
                name="user_target_weight_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(theme_mode__in=ThemeMode.values), name="user_theme_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(measurement_system__in=MeasurementSystem.values),
                name="user_measurement_system_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(migration_source__in=MigrationSource.values),
                name="user_migration_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @classmethod
    def from_token(cls, user_id) -> "User":
        """The user of an accepted access token, without reading its row: it knows its id
        and that it is active; the first other field read loads the whole row at once."""
        user = cls.from_db(None, ["id", "is_active"], [cls._meta.pk.to_python(user_id), True])
        user._load_whole_row = True
        return user

    def refresh_from_db(self, using=None, fields=None, from_queryset=None) -> None:
        if fields is not None and self.__dict__.pop("_load_whole_row", False):
            # One query for every deferred field, not one per field a view happens to read.
            fields = {*fields, *self.get_deferred_fields()}
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args, **kwargs) -> None:
        self.email = normalize_email(self.email)
        if not self.display_name:
            self.display_name = self.name
        # set_password() leaves the raw password in _password until save(): a new password,
        # whoever sets it (reset, admin, changepassword), ends the old sessions. A hash
        # upgrade at login clears _password first, so it logs nobody out.
        if self._password is not None and not self._state.adding:
            self.token_version += 1
            self.sessions_ended_at = dj_timezone.now()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None and "password" in update_fields:
                kwargs["update_fields"] = {*update_fields, "token_version", "sessions_ended_at"}
        super().save(*args, **kwargs)


class TokenFamily(models.Model):
    """Every refresh token descended from one login, and the access tokens issued with them.

    Tokens carry the family's id (`fam` claim). Presenting a refresh token that was already
    rotated is taken as theft (RFC 9700, 4.14.2): the whole family is revoked, so neither
    the thief nor the victim keeps a working token, and the row keeps the record.
    """

    class Reason(models.TextChoices):
        LOGOUT = "logout"
        REUSE = "reuse", "rotated refresh token reused"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_families")
    created_at = models.DateTimeField(auto_now_add=True)
    last_rotated_at = models.DateTimeField(default=dj_timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    # The jti of the rotated refresh token that was presented again.
    reused_jti = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name_plural = "token families"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="token_family_user_revoked"),
            models.Index(fields=["last_rotated_at"], name="token_family_last_rotated"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} / {self.pk}"


class LoginAttemptWindow(models.Model):
    """Login attempts for one e-mail in the current lockout window, counted in the database
    so that a lockout survives a cache restart."""

    email = models.CharField(max_length=254, unique=True)
    window_started_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.email}: {self.attempts}"


class PasswordResetCode(models.Model):
    """The one live password-reset code of a user: six digits to type, short-lived, and
    dead after a few wrong tries. Only its HMAC is stored (`accounts.services`), so the
    table alone does not let anyone reset a password."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="reset_code")
    code_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="reset_code_expires")]

    def __str__(self) -> str:
        return f"{self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class DeletedAccount(models.Model):
    """The id of an account its user deleted, and when: nothing else. While the old
    Firebase and Supabase data still exist, the importers and the Firebase ID-token bridge
    would otherwise bring the account back from them (its ids are kept or derived there)."""

    id = models.UUIDField(primary_key=True, editable=False)
    deleted_at = models.DateTimeField(default=dj_timezone.now)

    def __str__(self) -> str:
        return f"{self.id} deleted {self.deleted_at:%Y-%m-%d}"


class DataExport(models.Model):
    """One "download my data" request (GDPR's portability): a Celery job writes a zip of
    every table's rows of the user, photos included, to the user's private storage."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The zip, once ready; gone (null) when its expiry sweep deleted it.
    file = models.ForeignKey(
        "storage.StoredFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "status"], name="data_export_owner_status")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "running", "ready", "failed"]),
                name="data_export_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.status} {self.created_at:%Y-%m-%d %H:%M}"
