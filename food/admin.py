from django.contrib import admin
from django.db import models

from food.models import FoodLog, FoodLogShare, FoodLogTag


class FoodLogTagInline(admin.TabularInline):
    model = FoodLogTag
    extra = 0


class FoodLogShareInline(admin.TabularInline):
    model = FoodLogShare
    extra = 0
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Deleted (tombstones)")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(FoodLog)
class FoodLogAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "calories", "meal_type", "timestamp", "deleted_at")
    list_filter = ("meal_type", "timestamp", DeletedFilter)
    list_select_related = ("owner",)
    search_fields = ("owner__email", "owner__name", "name")
    date_hierarchy = "timestamp"
    ordering = ("-timestamp",)
    raw_id_fields = ("owner", "image")
    readonly_fields = ("id", "created_at", "updated_at")
    inlines = [FoodLogTagInline, FoodLogShareInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
