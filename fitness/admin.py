from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """For records only the service writes (runs, audit trails, social links): staff look,
    never add, edit or delete, so the admin cannot bypass the rules that wrote them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
