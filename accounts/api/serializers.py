from decimal import Decimal
from zoneinfo import available_timezones

from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from accounts.models import (
    DataExport,
    FitnessGoal,
    Gender,
    MeasurementSystem,
    ThemeMode,
    User,
    normalize_email,
)
from fitness.measurements import MeasurementField
from fitness.serializers import StrictSerializer

_MAX_HEIGHT_CM = Decimal("300")
_MAX_WEIGHT_KG = Decimal("700")


class UserProfileSerializer(serializers.ModelSerializer):
    height = MeasurementField(
        kind="length", max_metric=_MAX_HEIGHT_CM, source="height_cm", allow_null=True
    )
    weight = MeasurementField(
        kind="mass", max_metric=_MAX_WEIGHT_KG, source="weight_kg", allow_null=True
    )
    target_weight = MeasurementField(
        kind="mass", max_metric=_MAX_WEIGHT_KG, source="target_weight_kg", allow_null=True
    )
    # The plan types these as optional: unset (stored blank) is null, never an empty string.
    gender = serializers.ChoiceField(choices=Gender.choices, allow_null=True, read_only=True)
    fitness_goal = serializers.ChoiceField(
        choices=FitnessGoal.choices, allow_null=True, read_only=True
    )

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "email_verified",
            "name",
            "display_name",
            "birthday",
            "gender",
            "height",
            "weight",
            "target_weight",
            "fitness_goal",
            "preferences",
            "invite_code",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for field in ("gender", "fitness_goal"):
            data[field] = data[field] or None
        return data


class ProfileUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=150, required=False)
    display_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    birthday = serializers.DateField(required=False, allow_null=True)
    gender = serializers.ChoiceField(choices=Gender.choices, required=False, allow_blank=True)
    height = MeasurementField(
        kind="length",
        max_metric=_MAX_HEIGHT_CM,
        source="height_cm",
        required=False,
        allow_null=True,
    )
    weight = MeasurementField(
        kind="mass", max_metric=_MAX_WEIGHT_KG, source="weight_kg", required=False, allow_null=True
    )
    target_weight = MeasurementField(
        kind="mass",
        max_metric=_MAX_WEIGHT_KG,
        source="target_weight_kg",
        required=False,
        allow_null=True,
    )
    fitness_goal = serializers.ChoiceField(
        choices=FitnessGoal.choices, required=False, allow_blank=True
    )

    def validate_birthday(self, value):
        if value and value >= timezone.localdate():
            raise serializers.ValidationError("Birthday must be in the past.")
        return value


class UserSettingsSerializer(StrictSerializer):
    theme_mode = serializers.ChoiceField(choices=ThemeMode.choices, required=False)
    notifications_enabled = serializers.BooleanField(required=False)
    measurement_system = serializers.ChoiceField(choices=MeasurementSystem.choices, required=False)
    language = serializers.RegexField(
        r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        max_length=User._meta.get_field("language").max_length,
        required=False,
    )
    timezone = serializers.CharField(max_length=64, required=False)
    privacy_settings = serializers.DictField(child=serializers.BooleanField(), required=False)

    def validate_timezone(self, value: str) -> str:
        if value not in available_timezones():
            raise serializers.ValidationError("Unknown IANA time zone.")
        return value

    def validate_privacy_settings(self, value: dict) -> dict:
        if len(value) > 50 or any(len(key) > 64 for key in value):
            raise serializers.ValidationError("At most 50 settings with names of 64 characters.")
        return value


class UserStatsSerializer(serializers.Serializer):
    total_workouts = serializers.IntegerField()
    total_calories_burned = serializers.IntegerField(help_text="kcal, like every calorie figure.")
    total_food_logs = serializers.IntegerField()
    streak_days = serializers.IntegerField()
    connections_count = serializers.IntegerField(help_text="Accepted connections.")
    achievements = serializers.ListField(child=serializers.CharField())


class UserResponseSerializer(serializers.Serializer):
    profile = UserProfileSerializer()
    settings = UserSettingsSerializer()
    stats = UserStatsSerializer()
    preferences = serializers.DictField()


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    name = serializers.CharField(max_length=150)
    display_name = serializers.CharField(max_length=150, required=False, allow_blank=True)

    def validate_email(self, value: str) -> str:
        # Lowercasing can lengthen a valid address ("İ" becomes two characters), so the
        # column's limit is checked on what is stored.
        limit = User._meta.get_field("email").max_length
        if len(normalize_email(value)) > limit:
            raise serializers.ValidationError(
                f"Ensure this field has no more than {limit} characters."
            )
        return value


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RefreshTokenSerializer(serializers.Serializer):
    refresh_token = serializers.CharField()


class AuthResponseSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")
    user = UserProfileSerializer()


class FirebaseExchangeSerializer(serializers.Serializer):
    id_token = serializers.CharField(max_length=8192, help_text="A Firebase Auth ID token.")


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PasswordResetConfirmSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    code = serializers.RegexField(
        r"^[0-9]{6}$",
        help_text="The six-digit code from the reset e-mail.",
        error_messages={"invalid": "Enter the six digits from the e-mail."},
    )
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


_GOALS = ("calories", "protein", "carbs", "fat", "fiber", "sugar")
_LISTS = ("dietary_restrictions", "allergies")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class PreferencesSerializer(serializers.Serializer):
    """Any JSON object; merged into the stored preferences (null removes a key). The keys
    the server reads must have the shape the schema gives them; others are kept as sent.

    Checked by hand: DRF's fields would coerce ("12" to 12.0), and a merge patch must be
    stored as sent."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        errors: dict[str, list[str]] = {}
        for key in _LISTS:
            value = data.get(key)
            if value is not None and not (
                isinstance(value, list) and all(isinstance(item, str) for item in value)
            ):
                errors[key] = ["Expected a list of strings, or null to remove it."]
        goals = data.get("daily_goals")
        if goals is not None and not (
            isinstance(goals, dict)
            and all(goals.get(name) is None or _is_number(goals[name]) for name in _GOALS)
        ):
            errors["daily_goals"] = [
                f"Expected an object whose {', '.join(_GOALS)} are numbers (or null)."
            ]
        if errors:
            raise serializers.ValidationError(errors)
        return data

    def to_representation(self, instance):
        return instance


class PreferencesSchema(OpenApiSerializerExtension):
    """A free-form object has no fields for drf-spectacular to read (it documented "no
    body"): the keys the server reads are named, and any others are kept as sent."""

    target_class = PreferencesSerializer

    def map_serializer(self, auto_schema, direction):
        # Nullable throughout: in a merge patch, null removes the key.
        strings = {"type": "array", "items": {"type": "string"}, "nullable": True}
        return {
            "type": "object",
            "description": "The plan's `UserPreferences`: any JSON object. Posted keys are "
            "merged in (RFC 7396: objects merge recursively, `null` removes a key).",
            "properties": {
                "daily_goals": {
                    "type": "object",
                    "nullable": True,
                    "description": "Daily targets: kcal, and grams of each nutrient (values "
                    "that are not positive numbers are ignored).",
                    "properties": {name: {"type": "number", "nullable": True} for name in _GOALS},
                    "additionalProperties": True,
                },
                "dietary_restrictions": strings,
                "allergies": strings,
            },
            "additionalProperties": True,
        }


class AccountDeleteSerializer(serializers.Serializer):
    password = serializers.CharField(
        max_length=128,
        trim_whitespace=False,
        required=False,
        help_text="The account's password. Accounts without one (signed in through Firebase "
        "only) send none, with the access token of a sign-in made within 5 minutes.",
    )


class DataExportStartedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=DataExport.Status.choices)


class DataExportSerializer(DataExportStartedSerializer):
    url = serializers.URLField(
        allow_null=True,
        help_text="A signed link to the zip once `status` is ready (null before, and once the "
        "zip has expired); each read signs a fresh one.",
    )
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When `url` stops working; read the export again for a new one."
    )
    error = serializers.CharField(allow_null=True, help_text="Why it failed, when it did.")
