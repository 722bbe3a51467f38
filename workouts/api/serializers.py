import json
import uuid
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fitness.api.fields import TimeBoundField
from fitness.api.render import iso_datetime, number, uuid_text
from fitness.measurements import MeasurementField, from_metric, in_unit, measurement_schema
from fitness.serializers import StrictSerializer
from social.selectors import user_card
from storage import selectors as storage
from workouts.metrics import Mass
from workouts.models import Exercise, ExerciseSet, Workout, WorkoutProgress, WorkoutType

MAX_EXERCISES = 100
MAX_SET_LOGS = 50
MAX_PROGRESS_PHOTOS = 20
_MAX_WEIGHT_KG = Decimal("1000")
_MAX_AI_FORM_CHECK_BYTES = 32 * 1024
# Offline clients send the time they logged something; allow for a slightly fast clock.
_CLOCK_SKEW = timedelta(minutes=5)

_MASS_SCHEMA = measurement_schema("mass", allow_zero=True)


def _mass(kg: Decimal | None, unit: str) -> dict | None:
    """Renders a stored kg value back in the unit it was entered in."""
    if kg is None:
        return None
    # Keyed by the text: hashing a Decimal computes a modular power, which cost more than
    # the division it saved (a page renders about 600 masses, mostly the same few).
    return {"value": _mass_value(str(kg), unit), "unit": unit}


@lru_cache(maxsize=4096)
def _mass_value(kg: str, unit: str) -> float:
    return in_unit(Decimal(kg), unit, "mass")["value"]


def _weight(**kwargs) -> MeasurementField:
    """`{value, unit}` with a value of 0 or more (0 for a bodyweight exercise) → Mass."""
    return MeasurementField(
        kind="mass",
        max_metric=_MAX_WEIGHT_KG,
        allow_zero=True,
        decimal_places=4,
        as_entered=Mass,
        numbers_only=True,
        **kwargs,
    )


def _not_in_future(value):
    if value is not None and value > timezone.now() + _CLOCK_SKEW:
        raise serializers.ValidationError("May not be in the future.")
    return value


# --- input ---------------------------------------------------------------------------------


class SetLogInputSerializer(StrictSerializer):
    reps = serializers.IntegerField(min_value=0, max_value=1000)
    weight = _weight(required=False, allow_null=True)
    rpe = serializers.DecimalField(
        max_digits=3,
        decimal_places=1,
        min_value=Decimal("1"),
        max_value=Decimal("10"),
        required=False,
        allow_null=True,
        coerce_to_string=False,
        help_text="Rate of perceived exertion, 1-10.",
    )
    completed = serializers.BooleanField(default=False)


class ExerciseInputSerializer(StrictSerializer):
    id = serializers.UUIDField(
        required=False,
        help_text="Only when replacing exercises: the id of one of this workout's exercises "
        "keeps that id. New exercises get an id from the server.",
    )
    name = serializers.CharField(max_length=255)
    sets = serializers.IntegerField(
        min_value=0,
        max_value=MAX_SET_LOGS,
        required=False,
        help_text="Defaults to 0, or to the number of set_logs when those are sent.",
    )
    reps = serializers.IntegerField(min_value=0, max_value=1000, default=0)
    weight = _weight(required=False, allow_null=True, default=None)
    duration = serializers.IntegerField(
        min_value=0, max_value=24 * 3600, required=False, allow_null=True, help_text="Seconds."
    )
    distance = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("1000000"),
        required=False,
        allow_null=True,
        coerce_to_string=False,
        help_text="Metres.",
    )
    completed = serializers.BooleanField(default=False)
    notes = serializers.CharField(max_length=2000, allow_blank=True, default="")
    set_logs = SetLogInputSerializer(
        many=True, required=False, max_length=MAX_SET_LOGS, help_text="Per-set detail."
    )

    def validate(self, attrs):
        logs = attrs.get("set_logs") or []
        if logs and attrs.get("sets", len(logs)) != len(logs):
            raise serializers.ValidationError(
                {"sets": ["With set_logs, sets must equal their number (or be left out)."]}
            )
        attrs["sets"] = len(logs) if logs else attrs.get("sets", 0)
        return attrs


@extend_schema_field(ExerciseInputSerializer(many=True))
class ExerciseListField(serializers.Field):
    """The exercises, validated in full even inside a PATCH.

    They always replace the old ones as a whole, and inside a partial serializer DRF
    would skip their required fields.
    """

    def to_internal_value(self, data):
        exercises = ExerciseInputSerializer(data=data, many=True, max_length=MAX_EXERCISES)
        exercises.is_valid(raise_exception=True)
        return exercises.validated_data


class WorkoutWriteSerializer(StrictSerializer):
    """PUT (every field; missing ones take their defaults) and PATCH (only those sent).

    Fields that only the server sets (id, user_id, created_at, updated_at,
    calories_estimated, calories_estimate, owner) are accepted and ignored, so a client may
    send back the object it read.
    """

    id = serializers.UUIDField(read_only=True)
    user_id = serializers.UUIDField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    calories_estimated = serializers.BooleanField(read_only=True)
    calories_estimate = serializers.JSONField(read_only=True)
    owner = serializers.JSONField(read_only=True)

    name = serializers.CharField(max_length=255)
    type = serializers.ChoiceField(choices=WorkoutType.choices)
    duration = serializers.IntegerField(
        min_value=0, max_value=24 * 60, allow_null=True, default=None, help_text="Minutes."
    )
    calories_burned = serializers.IntegerField(
        min_value=0,
        max_value=20000,
        allow_null=True,
        default=None,
        help_text="Leave out (or null) to have it estimated from the type and duration.",
    )
    completed = serializers.BooleanField(default=False)
    completed_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        validators=[_not_in_future],
        help_text="Defaults to now on completion.",
    )
    notes = serializers.CharField(max_length=5000, allow_blank=True, default="")
    group_id = serializers.UUIDField(allow_null=True, default=None)
    progress_photos = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=MAX_PROGRESS_PHOTOS,
        default=list,
        help_text="Ids of your uploaded files (POST /storage/upload), in order; they "
        "replace the workout's photos as a whole. Anyone else's file id is a 400.",
    )
    progress_photo_ids = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=MAX_PROGRESS_PHOTOS,
        required=False,
        help_text="The same, under the name the workout is read with; when sent, "
        "`progress_photos` is ignored (it holds URLs in an object sent back as read).",
    )
    ai_form_check = serializers.JSONField(allow_null=True, default=None)
    shared_with = serializers.ListField(
        child=serializers.UUIDField(), max_length=100, default=list, help_text="User ids."
    )
    exercises = ExerciseListField(default=list, help_text=f"At most {MAX_EXERCISES}, in order.")

    def to_internal_value(self, data):
        if isinstance(data, dict) and "progress_photo_ids" in data:
            data = {key: value for key, value in data.items() if key != "progress_photos"}
        return super().to_internal_value(data)

    def validate_ai_form_check(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Expected an object.")
        if value is not None and len(json.dumps(value)) > _MAX_AI_FORM_CHECK_BYTES:
            raise serializers.ValidationError("At most 32 KiB.")
        return value

    def validate(self, attrs):
        if attrs.get("completed") is False and attrs.get("completed_at") is not None:
            raise serializers.ValidationError(
                {"completed_at": ["Only a completed workout has a completion time."]}
            )
        return attrs


class WorkoutCreateSerializer(WorkoutWriteSerializer):
    id = serializers.UUIDField(
        required=False,
        help_text="Chosen by an offline client. Sending the same id again returns the "
        "stored workout (200) instead of creating a second one.",
    )
    created_at = serializers.DateTimeField(
        required=False,
        validators=[_not_in_future],
        help_text="When the workout took place; defaults to now.",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start, end = attrs.get("created_at"), attrs.get("completed_at")
        if start and end and end < start:
            raise serializers.ValidationError({"completed_at": ["May not be before created_at."]})
        return attrs


@extend_schema_field(
    {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "format": "uuid"}]}
)
class ExerciseRefField(serializers.Field):
    """An exercise by its 0-based position in the workout or by its id."""

    default_error_messages = {"invalid": "Expected an exercise index (0, 1, ...) or id."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int) and data >= 0:
            return data
        if isinstance(data, str):
            try:
                return uuid.UUID(data)
            except ValueError:
                pass
        self.fail("invalid")

    def to_representation(self, value):
        return value if isinstance(value, int) else str(value)


class SetRefSerializer(StrictSerializer):
    exercise = ExerciseRefField()
    set = serializers.IntegerField(min_value=0, help_text="0-based index in set_logs.")


class ProgressInputSerializer(StrictSerializer):
    """Today's references (`exercises`, `sets`) or the plan's `WorkoutProgress` as the app
    sends it (`completed_exercises` a count; its `workout_id` and `total_exercises`, which
    the server knows, are accepted and ignored)."""

    workout_id = serializers.UUIDField(read_only=True)
    total_exercises = serializers.IntegerField(read_only=True)
    completed_exercises = serializers.IntegerField(
        min_value=0,
        max_value=MAX_EXERCISES,
        required=False,
        help_text="The plan's count: the first N exercises, in order, are now done.",
    )
    exercises = serializers.ListField(
        child=ExerciseRefField(),
        max_length=MAX_EXERCISES,
        default=list,
        help_text="Exercises now done, by 0-based index or id.",
    )
    sets = SetRefSerializer(
        many=True,
        max_length=MAX_EXERCISES * MAX_SET_LOGS,
        default=list,
        help_text="Logged sets now done.",
    )
    duration = serializers.IntegerField(
        min_value=0, max_value=24 * 60, required=False, help_text="Elapsed minutes."
    )
    calories_burned = serializers.IntegerField(min_value=0, max_value=20000, required=False)
    timestamp = serializers.DateTimeField(
        required=False, validators=[_not_in_future], help_text="Defaults to now."
    )

    def validate(self, attrs):
        sent = ("completed_exercises", "duration", "calories_burned")
        if not (attrs["exercises"] or attrs["sets"] or any(name in attrs for name in sent)):
            raise serializers.ValidationError(
                "Send at least one of completed_exercises, exercises, sets, duration or "
                "calories_burned."
            )
        return attrs


class StatsQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword, so the field is declared as from_ and renamed.
    from_ = TimeBoundField(required=False, help_text="Date or date-time (inclusive).")
    to = TimeBoundField(upper=True, required=False, help_text="Date or date-time (inclusive).")

    def get_fields(self):
        fields = super().get_fields()
        return {"from": fields.pop("from_"), **fields}

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and end <= start:
            raise serializers.ValidationError({"to": ["Must be after from."]})
        return attrs


class WorkoutListQuerySerializer(StatsQuerySerializer):
    type = serializers.ChoiceField(choices=WorkoutType.choices, required=False)
    include_shared = serializers.BooleanField(
        default=False,
        help_text="Also workouts shared with you or linked to your groups (read-only).",
    )
    completed = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = serializers.CharField(max_length=100, required=False, help_text="Name or notes.")


# --- output --------------------------------------------------------------------------------


class ExerciseSetSerializer(serializers.ModelSerializer):
    weight = serializers.SerializerMethodField()
    rpe = serializers.DecimalField(
        max_digits=3, decimal_places=1, allow_null=True, coerce_to_string=False
    )

    class Meta:
        model = ExerciseSet
        fields = ["reps", "weight", "rpe", "completed"]
        read_only_fields = fields

    @extend_schema_field({**_MASS_SCHEMA, "nullable": True})
    def get_weight(self, obj: ExerciseSet) -> dict | None:
        return _mass(obj.weight_kg, obj.weight_unit)


class ExerciseSerializer(serializers.ModelSerializer):
    weight = serializers.SerializerMethodField()
    distance = serializers.DecimalField(
        max_digits=10, decimal_places=2, allow_null=True, coerce_to_string=False
    )
    set_logs = ExerciseSetSerializer(many=True, read_only=True)

    class Meta:
        model = Exercise
        fields = [
            "id",
            "name",
            "sets",
            "reps",
            "weight",
            "duration",
            "distance",
            "completed",
            "notes",
            "set_logs",
        ]
        read_only_fields = fields

    @extend_schema_field({**_MASS_SCHEMA, "nullable": True})
    def get_weight(self, obj: Exercise) -> dict | None:
        return _mass(obj.weight_kg, obj.weight_unit)


class CalorieEstimateSerializer(serializers.Serializer):
    method = serializers.CharField(help_text="Always `met`: MET x body weight x hours.")
    met = serializers.FloatField()
    body_weight_kg = serializers.FloatField()
    body_weight_assumed = serializers.BooleanField(
        help_text="True when the profile has no weight and a default was used."
    )


class WorkoutSerializer(serializers.ModelSerializer):
    """The plan's `Workout`, plus completed_at, notes, updated_at and the estimate flags."""

    user_id = serializers.UUIDField(source="owner_id", read_only=True)
    calories_estimated = serializers.BooleanField(
        read_only=True, help_text="True when calories_burned is our estimate, not the user's."
    )
    calories_estimate = CalorieEstimateSerializer(read_only=True, allow_null=True)
    exercises = ExerciseSerializer(many=True, read_only=True)
    progress_photos = serializers.SerializerMethodField()
    progress_photo_ids = serializers.SerializerMethodField()
    ai_form_check = serializers.JSONField(read_only=True, allow_null=True)
    shared_with = serializers.SerializerMethodField()
    group_id = serializers.UUIDField(read_only=True, allow_null=True)
    owner = serializers.SerializerMethodField()

    class Meta:
        model = Workout
        fields = [
            "id",
            "user_id",
            "name",
            "type",
            "duration",
            "calories_burned",
            "calories_estimated",
            "calories_estimate",
            "completed",
            "completed_at",
            "notes",
            "created_at",
            "updated_at",
            "exercises",
            "progress_photos",
            "progress_photo_ids",
            "ai_form_check",
            "shared_with",
            "group_id",
            "owner",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ListField(
            child=serializers.URLField(),
            help_text="Signed URLs of the progress photos, in order; they expire (read the "
            "workout again for fresh ones).",
        )
    )
    def get_progress_photos(self, obj: Workout) -> list[str]:
        # Lists pass context["photo_urls"], signed in one go for the page (`photo_urls_for`).
        urls = self.context.get("photo_urls")
        if urls is None:
            urls = photo_urls_for([obj], self.context.get("request"))
        return [urls[photo.file_id] for photo in obj.photos.all()]

    @extend_schema_field(
        serializers.ListField(
            child=serializers.UUIDField(), help_text="File ids of the same photos, in order."
        )
    )
    def get_progress_photo_ids(self, obj: Workout) -> list[uuid.UUID]:
        return [photo.file_id for photo in obj.photos.all()]

    @extend_schema_field(
        serializers.ListField(
            child=serializers.UUIDField(),
            help_text="Whom the workout is shared with. A reader sees only their own id.",
        )
    )
    def get_shared_with(self, obj: Workout) -> list[uuid.UUID]:
        readers = [share.user_id for share in obj.shares.all()]
        viewer = _viewer_id(self.context)
        if viewer is not None and viewer != obj.owner_id:
            readers = [reader for reader in readers if reader == viewer]
        return readers

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "description": "The owner's public card (id, display_name, avatar) when the "
            "workout is someone else's (shared with you or through a group); null for yours.",
        }
    )
    def get_owner(self, obj: Workout) -> dict | None:
        viewer = _viewer_id(self.context)
        if viewer is None or viewer == obj.owner_id:
            return None
        return user_card(obj.owner)


def _viewer_id(context: dict) -> uuid.UUID | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def _estimate_row(estimate: dict | None) -> dict | None:
    # CalorieEstimateSerializer of the stored JSON: its field order, its types, keys the
    # JSON lacks left out (DRF skips a missing key of a read-only field).
    if estimate is None:
        return None
    kinds = {"method": str, "met": float, "body_weight_kg": float, "body_weight_assumed": bool}
    return {name: kind(estimate[name]) for name, kind in kinds.items() if name in estimate}


def _set_row(row: dict) -> dict:
    return {
        "reps": row["reps"],
        "weight": _mass(row["weight_kg"], row["weight_unit"]),
        "rpe": number(row["rpe"]),
        "completed": row["completed"],
    }


def _exercise_row(row: dict) -> dict:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "sets": row["sets"],
        "reps": row["reps"],
        "weight": _mass(row["weight_kg"], row["weight_unit"]),
        "duration": row["duration"],
        "distance": number(row["distance"]),
        "completed": row["completed"],
        "notes": row["notes"],
        "set_logs": [_set_row(set_log) for set_log in row["set_logs"]],
    }


def render_workout(row: dict, *, viewer_id: uuid.UUID, photo_urls: dict, zone) -> dict:
    """`WorkoutSerializer` of a `selectors.workout_page` row, without model instances.

    The tests hold the two to the same bytes; the schema still comes from the serializer.
    """
    owner_id = row["owner_id"]
    readers = row["readers"]
    owner = None
    if viewer_id != owner_id:
        readers = [reader for reader in readers if reader == viewer_id]
        owner = {
            "id": str(owner_id),
            "display_name": row["owner__display_name"] or row["owner__name"],
            "avatar": None,
            "hidden": False,
        }
    estimate = row["calories_estimate"]
    return {
        "id": str(row["id"]),
        "user_id": str(owner_id),
        "name": row["name"],
        "type": row["type"],
        "duration": row["duration"],
        "calories_burned": row["calories_burned"],
        "calories_estimated": estimate is not None,
        "calories_estimate": _estimate_row(estimate),
        "completed": row["completed"],
        "completed_at": iso_datetime(row["completed_at"], zone),
        "notes": row["notes"],
        "created_at": iso_datetime(row["created_at"], zone),
        "updated_at": iso_datetime(row["updated_at"], zone),
        "exercises": [_exercise_row(exercise) for exercise in row["exercises"]],
        "progress_photos": [photo_urls[file_id] for file_id in row["photo_ids"]],
        "progress_photo_ids": [str(file_id) for file_id in row["photo_ids"]],
        "ai_form_check": row["ai_form_check"],
        "shared_with": [str(reader) for reader in readers],
        "group_id": uuid_text(row["group_id"]),
        "owner": owner,
    }


def photo_urls_for(workouts: Iterable[Workout], request) -> dict[uuid.UUID, str]:
    """Signed URLs of the workouts' prefetched photos, in one cache round trip."""
    return storage.signed_urls(
        [photo.file for workout in workouts for photo in workout.photos.all()], request=request
    )


class WorkoutProgressSerializer(serializers.ModelSerializer):
    """The plan's `WorkoutProgress` (plus calories_estimated); also each history entry."""

    duration = serializers.SerializerMethodField(help_text="Minutes; 0 when unknown.")
    calories_burned = serializers.SerializerMethodField(help_text="0 when unknown.")

    class Meta:
        model = WorkoutProgress
        fields = [
            "workout_id",
            "completed_exercises",
            "total_exercises",
            "duration",
            "calories_burned",
            "calories_estimated",
            "timestamp",
        ]
        read_only_fields = fields

    def get_duration(self, obj: WorkoutProgress) -> int:
        return obj.duration or 0

    def get_calories_burned(self, obj: WorkoutProgress) -> int:
        return obj.calories_burned or 0


# --- stats ---------------------------------------------------------------------------------


class StatsTotalsSerializer(serializers.Serializer):
    workouts = serializers.IntegerField()
    completed = serializers.IntegerField()
    minutes = serializers.IntegerField()
    calories_burned = serializers.IntegerField()
    training_volume = MeasurementField(
        kind="mass",
        allow_zero=True,
        source="training_volume_kg",
        help_text="Sum of sets x reps x weight.",
    )


def _first(fields: dict, name: str) -> dict:
    """DRF puts a subclass's own fields after inherited ones; the key reads better first."""
    return {name: fields.pop(name), **fields}


class StatsByTypeSerializer(StatsTotalsSerializer):
    type = serializers.ChoiceField(choices=WorkoutType.choices)

    def get_fields(self):
        return _first(super().get_fields(), "type")


class StatsWeekSerializer(StatsTotalsSerializer):
    week_start = serializers.DateField(help_text="Monday of the week, in the user's zone.")

    def get_fields(self):
        return _first(super().get_fields(), "week_start")


_RECORD_SCHEMA = {
    **_MASS_SCHEMA,
    "required": [*_MASS_SCHEMA["required"], "date", "workout_id"],
    "properties": {
        **_MASS_SCHEMA["properties"],
        "date": {
            "type": "string",
            "format": "date",
            "description": "Local day of the workout that first reached it.",
        },
        "workout_id": {"type": "string", "format": "uuid"},
    },
}


@extend_schema_field(_RECORD_SCHEMA)
class PersonalRecordField(serializers.Field):
    """A record as a measurement with the day it was reached: `{value, unit, date,
    workout_id}`, flat (a nested `{value: {value, unit}}` read badly in the app)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, record: dict) -> dict:
        system = self.context.get("measurement_system", "metric")
        return {
            **from_metric(record["value_kg"], "mass", system),
            "date": serializers.DateField().to_representation(record["date"]),
            "workout_id": str(record["workout_id"]),
        }


class ExerciseRecordsSerializer(serializers.Serializer):
    exercise = serializers.CharField()
    heaviest_weight = PersonalRecordField()
    best_one_rep_max = PersonalRecordField(help_text="Epley: weight x (1 + reps / 30).")
    best_volume = PersonalRecordField(help_text="Sets x reps x weight in one workout.")


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "description": "The bound as the client sent it (a date or a date-time, inclusive); "
        "null when left out.",
    }
)
class TimeBoundEchoField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(allow_null=True, read_only=True, **kwargs)


class WorkoutStatsSerializer(serializers.Serializer):
    from_ = TimeBoundEchoField()
    to = TimeBoundEchoField()
    totals = StatsTotalsSerializer()
    by_type = StatsByTypeSerializer(many=True)
    weekly = StatsWeekSerializer(many=True)
    streak_days = serializers.IntegerField(
        help_text="Consecutive local days with a workout, ending today (or yesterday)."
    )
    personal_records = ExerciseRecordsSerializer(many=True)

    def get_fields(self):
        fields = super().get_fields()
        return {"from": fields.pop("from_"), **fields}


class WorkoutResponseSerializer(serializers.Serializer):
    """The plan's `WorkoutResponse`."""

    workout = WorkoutSerializer()
    progress = WorkoutProgressSerializer()
    stats = WorkoutStatsSerializer()
