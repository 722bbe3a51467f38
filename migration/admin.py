from django.contrib import admin

from migration.models import IdMap, MigrationRun


class ReadOnlyAdmin(admin.ModelAdmin):
    """Runs and the id map are written only by the importers; staff look, never edit."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MigrationRun)
class MigrationRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "source", "status", "started_at", "finished_at", "high_water_mark")
    list_filter = ("source", "status")
    ordering = ("-started_at",)
    readonly_fields = (
        "id",
        "source",
        "status",
        "options",
        "started_at",
        "finished_at",
        "high_water_mark",
        "counts",
        "report",
        "error",
    )
    fields = readonly_fields


@admin.register(IdMap)
class IdMapAdmin(ReadOnlyAdmin):
    list_display = ("source_table", "old_id", "new_id", "owner", "updated_at")
    list_filter = ("source_table",)
    search_fields = ("old_id", "new_id", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "run")
    readonly_fields = (
        "source_table",
        "old_id",
        "new_id",
        "owner",
        "source_hash",
        "run",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
