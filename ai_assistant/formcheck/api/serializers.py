from rest_framework import serializers

from ai_assistant.formcheck.service import MAX_PHOTOS
from ai_assistant.recognition.api.serializers import IMAGE_HELP


class CheckFormSerializer(serializers.Serializer):
    exercise = serializers.CharField(max_length=100, help_text="e.g. 'back squat'.")
    image = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        default=list,
        max_length=MAX_PHOTOS,
        help_text=f"1 to {MAX_PHOTOS} photos (moments of one repetition, in order); "
        "repeat the field. " + IMAGE_HELP,
    )
    file_id = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        default=list,
        max_length=MAX_PHOTOS,
        help_text="Ids of photos you uploaded to /storage/upload, instead of or beside `image`.",
    )
    workout_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="One of your workouts: the check is also kept as its `ai_form_check`.",
    )

    def validate(self, attrs: dict) -> dict:
        if not 1 <= len(attrs["image"]) + len(attrs["file_id"]) <= MAX_PHOTOS:
            raise serializers.ValidationError(
                {"image": [f"Send 1 to {MAX_PHOTOS} photos (`image` and `file_id` together)."]}
            )
        return attrs
