from datetime import datetime

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fitness.api.schema import ErrorDetailSerializer
from storage.models import CLIENT_PURPOSES, AccessLevel, Purpose, StoredFile, Variant

MAX_TAGS = 20


class _UploadOptionsSerializer(serializers.Serializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50, allow_blank=True),
        max_length=MAX_TAGS,
        required=False,
        default=list,
        help_text="Repeat the field for several tags.",
    )
    purpose = serializers.ChoiceField(choices=CLIENT_PURPOSES, default=Purpose.OTHER)
    access_level = serializers.ChoiceField(
        choices=AccessLevel.choices,
        default=AccessLevel.PRIVATE,
        help_text="Informational: every file is only ever reached through signed URLs.",
    )
    expiry = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When the file is deleted by itself; in the future.",
    )

    def validate_tags(self, tags: list[str]) -> list[str]:
        # Order kept, blanks and repeats dropped.
        return list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))

    def validate_expiry(self, expiry: datetime | None) -> datetime | None:
        if expiry is not None and expiry <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return expiry


class UploadSerializer(_UploadOptionsSerializer):
    id = serializers.UUIDField(
        required=False,
        help_text="Chosen by an offline client. Sending the same id again returns the "
        "stored file (200) without storing the bytes twice.",
    )
    file = serializers.FileField(
        help_text="JPEG, PNG, WebP or HEIC/HEIF image; the type is read from its bytes."
    )


class BatchUploadSerializer(_UploadOptionsSerializer):
    """context["skipped_files"]: how many files the upload handler dropped as too large."""

    files = serializers.ListField(
        # Empty, broken or oversized files are reported per index in `errors`, not for the
        # whole batch.
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        max_length=settings.STORAGE_BATCH_MAX_FILES,
        help_text=f"1 to {settings.STORAGE_BATCH_MAX_FILES} images; repeat the field.",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs["files"] and not self.context.get("skipped_files"):
            raise serializers.ValidationError({"files": ["Send at least one file."]})
        return attrs


class BatchDeleteSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=100)


class BatchDeleteResponseSerializer(serializers.Serializer):
    deleted = serializers.IntegerField(help_text="How many of the caller's files were deleted.")


class VariantQuerySerializer(serializers.Serializer):
    variant = serializers.ChoiceField(
        choices=Variant.choices,
        required=False,
        help_text="A resized copy (thumbnail 256 px, display 1280 px on the long side); "
        "the original until the copy is ready.",
    )


class FileListQuerySerializer(VariantQuerySerializer):
    purpose = serializers.ChoiceField(choices=CLIENT_PURPOSES, required=False)


class SignedUrlSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()


class FileMetadataSerializer(serializers.Serializer):
    """The plan's `FileMetadata`, plus what a gallery needs to lay photos out."""

    content_type = serializers.CharField(help_text="Of the stored bytes, read from them.")
    size = serializers.IntegerField(help_text="Bytes stored.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    tags = serializers.ListField(child=serializers.CharField())
    user_id = serializers.UUIDField(source="owner_id")
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    filename = serializers.CharField(
        source="original_filename", help_text="The uploaded name, for display only."
    )


class _SignedMixin(serializers.Serializer):
    """Reads URLs signed in bulk beforehand: context["signed"] = {file id: SignedUrl}."""

    url = serializers.SerializerMethodField(help_text="Signed; valid until `expires_at`.")
    expires_at = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, stored: StoredFile) -> str:
        return self.context["signed"][stored.id].url

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_expires_at(self, stored: StoredFile) -> str:
        return serializers.DateTimeField().to_representation(
            self.context["signed"][stored.id].expires_at
        )


class StorageResponseSerializer(_SignedMixin):
    """The plan's `StorageResponse` with its `StorageItem`'s `access_level` and `expiry`:
    one shape for a stored file from the upload, `GET /storage/{id}` and the list alike,
    its id named `file_id` everywhere (the fields that link a file say `image_id`,
    `progress_photo_ids`)."""

    file_id = serializers.UUIDField(source="id")
    metadata = FileMetadataSerializer(source="*")
    access_level = serializers.ChoiceField(choices=AccessLevel.choices)
    expiry = serializers.DateTimeField(allow_null=True)


class BatchErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the file in `files`, from 0.")
    error = ErrorDetailSerializer()


class BatchUploadResponseSerializer(serializers.Serializer):
    items = StorageResponseSerializer(many=True)
    errors = BatchErrorSerializer(many=True)
