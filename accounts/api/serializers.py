from decimal import Decimal
from zoneinfo import available_timezones

from django.utils import timezone
from rest_framework import serializers

from accounts.models import FitnessGoal, Gender, MeasurementSystem, ThemeMode, User
from fitness.measurements import MeasurementField

_MAX_HEIGHT_CM = Decimal("300")
_MAX_WEIGHT_KG = Decimal("700")


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not know, so a typo is a 400 rather than a silent no-op."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown field."] for key in sorted(unknown)}
                )
        return super().to_internal_value(data)


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
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # The plan types these as optional: unset is null, not an empty string.
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
    language = serializers.RegexField(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", required=False)
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
    total_calories_burned = serializers.FloatField()
    total_food_logs = serializers.IntegerField()
    streak_days = serializers.IntegerField()
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


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RefreshTokenSerializer(serializers.Serializer):
    refresh_token = serializers.CharField()


class AuthResponseSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField(default="Bearer")
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")
    user = UserProfileSerializer()


class FirebaseExchangeSerializer(serializers.Serializer):
    id_token = serializers.CharField(max_length=8192, help_text="A Firebase Auth ID token.")


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PreferencesSerializer(serializers.Serializer):
    """Any JSON object; merged into the stored preferences (null removes a key)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        return data

    def to_representation(self, instance):
        return instance
