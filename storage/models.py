import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from fitness.models import SyncVersioned


class Purpose(models.TextChoices):
    FOOD_PHOTO = "food_photo"
    PROGRESS_PHOTO = "progress_photo"
    AVATAR = "avatar"
    FORM_CHECK = "form_check"
    OTHER = "other"
    # A zip of everything the user has (accounts.data_export); made by us, never uploaded.
    DATA_EXPORT = "data_export"


# What a client may upload as, or filter its files by.
CLIENT_PURPOSES = [
    (value, label) for value, label in Purpose.choices if value != Purpose.DATA_EXPORT
]


class AccessLevel(models.TextChoices):
    PRIVATE = "private"
    SHARED = "shared"


class Variant(models.TextChoices):
    THUMBNAIL = "thumbnail"
    DISPLAY = "display"


class StoredFileQuerySet(models.QuerySet):
    def live(self) -> "StoredFileQuerySet":
        """Files past their expiry are gone for clients even before the sweep deletes them."""
        return self.filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))

    def for_owner(self, user) -> "StoredFileQuerySet":
        return self.live().filter(owner=user)


class StoredFile(SyncVersioned):
    """One uploaded image: the re-encoded original in the storage backend plus its variants.

    Deletion is a hard delete (no tombstone): the row going away is what clears the links
    from food logs and workouts, and the blobs follow it (see `storage.signals`).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stored_files"
    )
    key = models.CharField(max_length=255, unique=True, editable=False)
    original_filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=50)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # {"thumbnail": {"key", "content_type", "size", "width", "height"}, "display": {...}};
    # empty until the variants task has run.
    variants = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.OTHER)
    access_level = models.CharField(
        max_length=10, choices=AccessLevel.choices, default=AccessLevel.PRIVATE
    )
    expiry = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StoredFileQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="storage_owner_created_idx"),
            models.Index(fields=["owner", "sync_version"], name="storage_owner_sync_idx"),
            models.Index(
                fields=["expiry"], name="storage_expiry_idx", condition=Q(expiry__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.id}"

    def blob_for(self, variant: str | None) -> tuple[str, str]:
        """(key, content type) to serve; the original until the asked-for variant exists."""
        made = self.variants.get(variant) if variant else None
        if made:
            return made["key"], made["content_type"]
        return self.key, self.content_type

    @property
    def blob_keys(self) -> list[str]:
        return [self.key, *(made["key"] for made in self.variants.values())]
