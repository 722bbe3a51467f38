from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from storage.models import StoredFile


@admin.register(StoredFile)
class StoredFileAdmin(admin.ModelAdmin):
    """Metadata only: staff never see the images here, which stay behind signed URLs."""

    list_display = ("id", "owner", "purpose", "content_type", "human_size", "created_at")
    list_filter = ("purpose", "content_type", "access_level", "created_at")
    search_fields = ("id", "owner__email", "original_filename", "sha256")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    ordering = ("-created_at",)
    readonly_fields = (
        "id",
        "owner",
        "key",
        "original_filename",
        "content_type",
        "size",
        "sha256",
        "width",
        "height",
        "variants",
        "created_at",
        "updated_at",
    )
    fields = (*readonly_fields, "tags", "purpose", "access_level", "expiry")

    @admin.display(description="size", ordering="size")
    def human_size(self, obj: StoredFile) -> str:
        return filesizeformat(obj.size)

    def has_add_permission(self, request) -> bool:
        # Files come in through the upload endpoint, which checks and cleans them.
        return False
