"""Requests and responses of food recognition: jobs, and food analysis (text or photo)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ai_assistant.models import RecognitionJob
from ai_assistant.recognition.schemas import FoodAnalysisResponse
from fitness.api.schema import ErrorDetailSerializer

IMAGE_HELP = "JPEG, PNG, WebP or HEIC/HEIF photo; the type is read from its bytes."
_FILE_ID_HELP = "Instead of `image`: the id of a photo you uploaded to /storage/upload."


def _exactly_one(attrs: dict, names: tuple[str, ...]) -> None:
    given = [name for name in names if attrs.get(name) not in (None, "")]
    if len(given) != 1:
        listed = ", ".join(f"`{name}`" for name in names)
        raise serializers.ValidationError({"non_field_errors": [f"Send exactly one of {listed}."]})


class RecognizeFoodSerializer(serializers.Serializer):
    image = serializers.FileField(required=False, help_text=IMAGE_HELP)
    file_id = serializers.UUIDField(required=False, help_text=_FILE_ID_HELP)
    log = serializers.BooleanField(
        default=False,
        help_text="Also log the meal: on success the result becomes a food log with the "
        "photo attached (`food_log_id`).",
    )
    id = serializers.UUIDField(
        required=False,
        help_text="A job id of your choosing: resending it returns the same job instead of "
        "starting another (e.g. after a dropped connection).",
    )

    def validate(self, attrs: dict) -> dict:
        _exactly_one(attrs, ("image", "file_id"))
        return attrs


class AnalyzeFoodTextSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=2000, help_text="What was eaten, in the user's words (e.g. '2 eggs and toast')."
    )


class AnalyzeFoodSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=2000,
        required=False,
        help_text="What was eaten, in the user's words (e.g. '2 eggs and toast').",
    )
    image = serializers.FileField(required=False, help_text=IMAGE_HELP)
    file_id = serializers.UUIDField(required=False, help_text=_FILE_ID_HELP)

    def validate(self, attrs: dict) -> dict:
        _exactly_one(attrs, ("text", "image", "file_id"))
        return attrs


@extend_schema_field(FoodAnalysisResponse)
class _FoodAnalysisResponseField(serializers.JSONField):
    pass


@extend_schema_field(ErrorDetailSerializer)
class _ErrorField(serializers.JSONField):
    pass


class RecognitionJobSerializer(serializers.ModelSerializer):
    image_id = serializers.UUIDField(
        allow_null=True,
        help_text="The photo's file id (see /storage); null once deleted, or when a photo "
        "answered from the cache was not kept (log=false).",
    )
    log = serializers.BooleanField(source="log_food", help_text="Whether log=true was asked.")
    food_log_id = serializers.UUIDField(
        allow_null=True, help_text="The food log made from the result (log=true)."
    )
    result = _FoodAnalysisResponseField(
        allow_null=True, help_text="AIResponse<FoodAnalysis> once `succeeded`."
    )
    error = _ErrorField(allow_null=True, help_text="Why, once `failed`.")

    class Meta:
        model = RecognitionJob
        fields = (
            "id",
            "status",
            "image_id",
            "log",
            "food_log_id",
            "result",
            "error",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields
