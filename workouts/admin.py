from django.contrib import admin

from workouts import services
from workouts.models import Exercise, Workout, WorkoutProgress, WorkoutShare


class ExerciseInline(admin.TabularInline):
    model = Exercise
    extra = 0
    ordering = ["position"]
    fields = [
        "position",
        "name",
        "sets",
        "reps",
        "weight_kg",
        "weight_unit",
        "duration",
        "distance",
        "completed",
        "notes",
        "volume_kg",
    ]
    readonly_fields = ["volume_kg"]


class WorkoutShareInline(admin.TabularInline):
    model = WorkoutShare
    extra = 0
    raw_id_fields = ["user"]


class WorkoutProgressInline(admin.TabularInline):
    model = WorkoutProgress
    extra = 0
    can_delete = False
    ordering = ["-timestamp"]
    fields = [
        "timestamp",
        "completed_exercises",
        "total_exercises",
        "duration",
        "calories_burned",
        "calories_estimated",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Workout)
class WorkoutAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "type", "created_at", "completed", "deleted_at"]
    list_filter = ["type", "completed", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "owner__email", "=id"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner", "group"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    readonly_fields = [
        "id",
        "created_at",
        "updated_at",
        "volume_kg",
        "calories_estimate",
        "progress_photo_ids",
    ]
    inlines = [ExerciseInline, WorkoutShareInline, WorkoutProgressInline]

    @admin.display(description="Progress photos (file ids)")
    def progress_photo_ids(self, workout: Workout) -> str:
        return ", ".join(str(photo.file_id) for photo in workout.photos.all()) or "-"

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        services.refresh_workout_metrics(workout=form.instance)
