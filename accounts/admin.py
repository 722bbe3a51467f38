from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts import services
from accounts.models import DataExport, TokenFamily, User
from fitness.admin import ReadOnlyModelAdmin


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    ordering = ("-created_at",)
    list_display = ("email", "name", "display_name", "is_active", "is_staff", "created_at")
    list_filter = (
        "is_active",
        "is_staff",
        "migration_source",
        "measurement_system",
        "fitness_goal",
        "created_at",
    )
    search_fields = ("email", "name", "display_name", "firebase_uid")
    readonly_fields = (
        "id",
        "created_at",
        "updated_at",
        "last_login",
        "date_joined",
        "token_version",
        "migration_source",
        "legacy",
    )
    fieldsets = (
        (None, {"fields": ("id", "email", "password")}),
        (
            "Profile",
            {
                "fields": (
                    "name",
                    "display_name",
                    "birthday",
                    "gender",
                    "height_cm",
                    "weight_kg",
                    "target_weight_kg",
                    "fitness_goal",
                    "preferences",
                )
            },
        ),
        (
            "Settings",
            {
                "fields": (
                    "theme_mode",
                    "notifications_enabled",
                    "measurement_system",
                    "language",
                    "timezone",
                    "privacy_settings",
                )
            },
        ),
        (
            "Migration",
            {"fields": ("firebase_uid", "email_verified", "migration_source", "legacy")},
        ),
        (
            "Permissions",
            {
                "fields": (
                    "is_active",
                    "token_version",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),
    )

    # The admin's delete is the account deletion the app offers (groups handed over, blobs
    # and tokens removed, the e-mail sent), not a bare cascade.
    def delete_model(self, request, obj: User) -> None:
        services.erase_account(user=obj)

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            services.erase_account(user=user)


@admin.register(DataExport)
class DataExportAdmin(ReadOnlyModelAdmin):
    """Read-only: users' data exports and how they went."""

    list_display = ("owner", "status", "created_at", "finished_at")
    list_filter = ("status", "created_at")
    search_fields = ("owner__email", "id")
    list_select_related = ("owner",)
    fields = ("id", "owner", "status", "file", "error", "created_at", "started_at", "finished_at")
    readonly_fields = fields


@admin.register(TokenFamily)
class TokenFamilyAdmin(ReadOnlyModelAdmin):
    """Read-only: sessions and their revocations (a reused refresh token is recorded here)."""

    list_display = ("user", "created_at", "last_rotated_at", "revoked_at", "revoked_reason")
    list_filter = ("revoked_reason", "revoked_at")
    search_fields = ("user__email", "id", "reused_jti")
    list_select_related = ("user",)
    fields = (
        "id",
        "user",
        "created_at",
        "last_rotated_at",
        "revoked_at",
        "revoked_reason",
        "reused_jti",
    )
    readonly_fields = fields
