"""Flags, switches, values and minimum versions in the admin, each change audited.

waffle's own admin pages are off (WAFFLE_ENABLE_ADMIN_PAGES): its bulk actions write
without passing through `save_model`, so they would bypass the audit trail.
"""

from django.conf import settings
from django.contrib import admin
from waffle.models import Switch

from fitness.admin import ReadOnlyModelAdmin
from rollout import services
from rollout.models import ChangeRecord, ConfigValue, Flag, MinAppVersion


class AuditedAdmin(admin.ModelAdmin):
    """Records who changed what from what to what. The "after" is taken once the form's
    many-to-many fields are saved too (a flag's users and groups)."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        # The bulk delete skips delete_model; one at a time, each deletion is recorded.
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        fresh = type(obj).objects.filter(pk=obj.pk).first() if change else None
        request._rollout_before = services.snapshot(fresh) if fresh is not None else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.record_change(
            actor=request.user,
            instance=form.instance,
            before=getattr(request, "_rollout_before", None),
            after=services.snapshot(form.instance),
        )

    def delete_model(self, request, obj):
        before = services.snapshot(obj)
        services.record_change(actor=request.user, instance=obj, before=before, after=None)
        super().delete_model(request, obj)


@admin.register(Flag)
class FlagAdmin(AuditedAdmin):
    list_display = (
        "name",
        "everyone",
        "percent",
        "staff",
        "platforms",
        "min_app_version",
        "max_app_version",
        "modified",
    )
    search_fields = ("name", "note")
    raw_id_fields = ("users", "groups")
    fields = (
        "name",
        "everyone",
        "percent",
        "staff",
        "superusers",
        "authenticated",
        "users",
        "groups",
        "platforms",
        "min_app_version",
        "max_app_version",
        "note",
    )


@admin.register(Switch)
class SwitchAdmin(AuditedAdmin):
    list_display = ("name", "active", "note", "modified")
    list_editable = ("active",)
    fields = ("name", "active", "note")
    ordering = ("name",)


@admin.register(ConfigValue)
class ConfigValueAdmin(AuditedAdmin):
    list_display = ("name", "value", "modified")
    search_fields = ("name", "note")


@admin.register(MinAppVersion)
class MinAppVersionAdmin(AuditedAdmin):
    list_display = ("platform", "version", "floor", "modified")

    @admin.display(description="floor from MIN_APP_VERSION_* (the higher one applies)")
    def floor(self, obj: MinAppVersion) -> str:
        return settings.MIN_APP_VERSION.get(obj.platform) or "-"


@admin.register(ChangeRecord)
class ChangeRecordAdmin(ReadOnlyModelAdmin):
    list_display = ("at", "actor_email", "kind", "name", "action", "before", "after")
    list_filter = ("kind", "action")
    search_fields = ("name", "actor_email")
