from django.contrib import admin

from fitness.admin import ReadOnlyModelAdmin
from migration.models import IdMap, MigrationRun


@admin.register(MigrationRun)
class MigrationRunAdmin(ReadOnlyModelAdmin):
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
class IdMapAdmin(ReadOnlyModelAdmin):
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
