from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from fitness.admin import ReadOnlyModelAdmin
from social import services
from social.models import (
    Block,
    Challenge,
    Connection,
    Group,
    GroupMembership,
    LeaderboardEntry,
    Role,
)


class MembershipFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk and form.instance.role == Role.OWNER:
                raise ValidationError(
                    "The owner cannot be removed: ownership has to be handed over first."
                )


class MembershipInline(admin.TabularInline):
    """Read-only rows; staff may only remove a member (tick Delete)."""

    model = GroupMembership
    formset = MembershipFormSet
    extra = 0
    fields = ["user", "role", "status", "joined_at", "invited_by"]
    readonly_fields = fields
    ordering = ["role", "joined_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ChallengeInline(admin.TabularInline):
    model = Challenge
    extra = 0
    fields = ["name", "type", "goals", "start_date", "end_date", "timezone", "finalized_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "hidden", "created_at"]
    list_filter = ["hidden"]
    search_fields = ["name", "description", "=id", "created_by__email"]
    list_select_related = ["created_by"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [MembershipInline, ChallengeInline]
    actions = ["hide", "unhide"]

    @admin.action(description="Hide (404 to everyone but staff)")
    def hide(self, request, queryset) -> None:
        count = services.set_group_hidden(
            group_ids=list(queryset.values_list("pk", flat=True)), hidden=True
        )
        self.message_user(request, f"{count} group(s) hidden.", messages.SUCCESS)

    @admin.action(description="Unhide")
    def unhide(self, request, queryset) -> None:
        count = services.set_group_hidden(
            group_ids=list(queryset.values_list("pk", flat=True)), hidden=False
        )
        self.message_user(request, f"{count} group(s) visible again.", messages.SUCCESS)

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not GroupMembership:
            super().save_formset(request, form, formset, change)
            return
        # Removal goes through the service: challenge places and live events follow it.
        for deleted in formset.deleted_forms:
            if deleted.instance.pk:
                services.staff_remove_member(membership_id=deleted.instance.pk)


class LeaderboardInline(admin.TabularInline):
    model = LeaderboardEntry
    extra = 0
    fields = ["rank", "user", "score", "reached_at", "completed_at"]
    readonly_fields = fields
    can_delete = False
    ordering = ["rank"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "type", "start_date", "end_date", "finalized_at"]
    list_filter = ["type"]
    search_fields = ["name", "group__name", "=id"]
    list_select_related = ["group"]
    raw_id_fields = ["group", "created_by"]
    readonly_fields = ["id", "created_at", "updated_at", "finalized_at", "board_refreshed_at"]
    inlines = [LeaderboardInline]


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyModelAdmin):
    list_display = ["requester", "addressee", "status", "created_at", "accepted_at"]
    list_filter = ["status"]
    search_fields = ["requester__email", "addressee__email"]
    list_select_related = ["requester", "addressee"]


@admin.register(Block)
class BlockAdmin(ReadOnlyModelAdmin):
    list_display = ["blocker", "blocked", "created_at"]
    search_fields = ["blocker__email", "blocked__email"]
    list_select_related = ["blocker", "blocked"]
