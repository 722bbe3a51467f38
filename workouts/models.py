import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from fitness.measurements import MASS_TO_KG
from fitness.models import OwnedSyncedModel, SyncVersioned
from workouts.metrics import NAME_KEY_LENGTH

MassUnit = models.TextChoices("MassUnit", [(unit, unit) for unit in MASS_TO_KG])


class WorkoutType(models.TextChoices):
    STRENGTH = "strength"
    CARDIO = "cardio"
    HIIT = "hiit", "HIIT"
    FLEXIBILITY = "flexibility"
    SPORTS = "sports"
    OTHER = "other"


def _kg_field(**kwargs) -> models.DecimalField:
    # Four decimals so that a weight entered in lb renders back exactly as entered.
    return models.DecimalField(max_digits=10, decimal_places=4, **kwargs)


def _volume_field() -> models.DecimalField:
    # Room for the largest valid workout: 100 exercises x 50 sets x 1,000 reps x 1,000 kg.
    return models.DecimalField(max_digits=16, decimal_places=4, default=0, editable=False)


class Workout(OwnedSyncedModel):
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=WorkoutType.choices)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Minutes.")
    calories_burned = models.PositiveIntegerField(null=True, blank=True)
    # What an estimated `calories_burned` was computed from; null when the user gave it.
    calories_estimate = models.JSONField(null=True, blank=True)
    completed = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    # Visible to the group's active members while the owner is one; deleting the group
    # unlinks (social.services.delete_group also touches `updated_at` for sync).
    group = models.ForeignKey(
        "social.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ai_form_check = models.JSONField(null=True, blank=True)
    # Sum of the exercises' volume_kg, kept by the services so stats aggregate one column.
    volume_kg = _volume_field()

    class Meta:
        indexes = [
            models.Index(
                fields=["owner", "-created_at"],
                name="workout_owner_created",
                condition=models.Q(deleted_at__isnull=True),
            ),
            models.Index(fields=["owner", "sync_version"], name="workout_owner_sync"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=WorkoutType.values), name="workout_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(completed=True) | models.Q(completed_at__isnull=True),
                name="workout_completed_at_only_when_completed",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def calories_estimated(self) -> bool:
        return self.calories_estimate is not None


class WorkoutShare(models.Model):
    workout = models.ForeignKey(Workout, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workout", "user"], name="workout_share_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workout_id} → {self.user_id}"


class WorkoutPhoto(models.Model):
    """A progress photo: one of the owner's stored files, at its place in the workout's list.

    Deleting the file deletes the link (and touches the workout, see workouts.receivers).
    """

    workout = models.ForeignKey(Workout, on_delete=models.CASCADE, related_name="photos")
    file = models.ForeignKey("storage.StoredFile", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["workout", "file"], name="workout_photo_unique"),
            models.UniqueConstraint(
                fields=["workout", "position"], name="workout_photo_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workout_id} #{self.position + 1}: {self.file_id}"


class Exercise(SyncVersioned):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workout = models.ForeignKey(Workout, on_delete=models.CASCADE, related_name="exercises")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=255)
    # Case- and space-folded name: personal records group by it.
    name_key = models.CharField(max_length=NAME_KEY_LENGTH, db_index=True, editable=False)
    sets = models.PositiveIntegerField(default=0)
    reps = models.PositiveIntegerField(default=0)
    # Canonical kg for maths, plus the unit the user entered so it renders back unchanged.
    weight_kg = _kg_field(null=True, blank=True)
    weight_unit = models.CharField(max_length=2, choices=MassUnit.choices, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    distance = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="Metres."
    )
    completed = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    # Derived from the fields above and the set logs (workouts.metrics), for stats.
    volume_kg = _volume_field()
    top_weight_kg = _kg_field(null=True, blank=True, editable=False)
    best_one_rep_max_kg = _kg_field(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["position"]
        indexes = [models.Index(fields=["sync_version"], name="exercise_sync")]
        constraints = [
            models.UniqueConstraint(
                fields=["workout", "position"], name="exercise_position_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(weight_kg__gte=0) | models.Q(weight_kg__isnull=True),
                name="exercise_weight_non_negative",
            ),
            models.CheckConstraint(
                condition=(models.Q(weight_kg__isnull=True) & models.Q(weight_unit=""))
                | (models.Q(weight_kg__isnull=False) & models.Q(weight_unit__in=MassUnit.values)),
                name="exercise_weight_unit_with_weight",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ExerciseSet(SyncVersioned):
    """One set as a lifter recorded it, when they record sets one by one."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="set_logs")
    position = models.PositiveSmallIntegerField()
    reps = models.PositiveIntegerField(default=0)
    weight_kg = _kg_field(null=True, blank=True)
    weight_unit = models.CharField(max_length=2, choices=MassUnit.choices, blank=True)
    rpe = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="Rate of perceived exertion.",
    )
    completed = models.BooleanField(default=False)

    class Meta:
        ordering = ["position"]
        indexes = [models.Index(fields=["sync_version"], name="exercise_set_sync")]
        constraints = [
            models.UniqueConstraint(fields=["exercise", "position"], name="exercise_set_unique"),
            models.CheckConstraint(
                condition=models.Q(weight_kg__gte=0) | models.Q(weight_kg__isnull=True),
                name="exercise_set_weight_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(rpe__gte=1, rpe__lte=10) | models.Q(rpe__isnull=True),
                name="exercise_set_rpe_range",
            ),
        ]

    def __str__(self) -> str:
        return f"set {self.position + 1}: {self.reps} reps"


class WorkoutProgress(SyncVersioned):
    """One progress report, kept as history: the workout's state right after it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workout = models.ForeignKey(Workout, on_delete=models.CASCADE, related_name="progress")
    timestamp = models.DateTimeField(default=timezone.now)
    completed_exercises = models.PositiveIntegerField()
    total_exercises = models.PositiveIntegerField()
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Minutes.")
    calories_burned = models.PositiveIntegerField(null=True, blank=True)
    calories_estimated = models.BooleanField(default=False)
    # Which exercises (ids) and sets ({exercise, set}) this report marked done.
    marked = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "workout progress"
        indexes = [
            models.Index(fields=["workout", "-timestamp"], name="progress_workout_time"),
            models.Index(fields=["sync_version"], name="progress_sync"),
        ]

    def __str__(self) -> str:
        return f"{self.completed_exercises}/{self.total_exercises} at {self.timestamp:%Y-%m-%d}"
