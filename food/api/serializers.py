import json
from collections.abc import Iterable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID
from zoneinfo import ZoneInfo, available_timezones

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fitness.api.fields import TimeBoundField
from fitness.api.render import iso_datetime, number, uuid_text
from fitness.serializers import StrictSerializer
from fitness.timeutils import MAX_YEAR, MIN_YEAR, within_supported_years
from food.models import MAX_CALORIES, MAX_GRAMS, MAX_TAG_LENGTH, FoodLog, MealType
from food.selectors import UNSPECIFIED_MEAL
from storage import selectors as storage

MAX_BATCH = 500
MAX_TAGS = 20
MAX_READERS = 50
MAX_JSON_BYTES = 32 * 1024
MAX_STATS_DAYS = 366
# Device clocks drift and zones get mixed up; further ahead than this is a mistake.
MAX_FUTURE = timedelta(days=1)


class GramsField(serializers.DecimalField):
    """Grams, rounded to 0.01 g rather than refused: scales and AI estimates send more
    digits than are worth storing."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", MAX_GRAMS)
        super().__init__(
            max_digits=7,
            decimal_places=2,
            rounding=ROUND_HALF_UP,
            coerce_to_string=False,
            **kwargs,
        )

    def validate_precision(self, value: Decimal) -> Decimal:
        # Bounds first: quantizing a huge number would overflow the 7-digit context.
        if value < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if value > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return value


class LocalDateTimeField(serializers.DateTimeField):
    """A time without an offset is the user's wall-clock time (context `zone`)."""

    def default_timezone(self):
        return self.context.get("zone") or super().default_timezone()


def _json_size_ok(value) -> None:
    if value is not None and len(json.dumps(value)) > MAX_JSON_BYTES:
        raise serializers.ValidationError(f"At most {MAX_JSON_BYTES} bytes of JSON.")


class FoodLogWriteSerializer(StrictSerializer):
    """Create (POST, with an optional client `id`), replace (PUT) or change (PATCH).

    Fields left out of a create or PUT take their defaults, except that PUT keeps the stored
    `timestamp`. `user_id`, `created_at` and `updated_at` are accepted and ignored, so a
    client may send back an object exactly as it read it.
    """

    id = serializers.UUIDField(
        required=False, help_text="Chosen by the client for offline-safe retries."
    )
    user_id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=255)
    calories = serializers.IntegerField(min_value=0, max_value=MAX_CALORIES)
    protein = GramsField(default=Decimal(0))
    carbs = GramsField(default=Decimal(0))
    fat = GramsField(default=Decimal(0))
    fiber = GramsField(default=None, allow_null=True)
    sugar = GramsField(default=None, allow_null=True)
    timestamp = LocalDateTimeField(
        required=False,
        help_text="When it was eaten (default: now). Without an offset: the user's time zone.",
    )
    meal_type = serializers.ChoiceField(choices=MealType.choices, allow_null=True, default=None)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=MAX_TAG_LENGTH),
        max_length=MAX_TAGS,
        default=list,
    )
    image_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="One of your uploaded files (POST /storage/upload); null unlinks it. Left "
        "out of a PUT, the linked file is kept.",
    )
    image_url = serializers.URLField(
        max_length=2048,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="A plain external URL, for clients that do not upload; ignored while a "
        "file is linked (`image_id`).",
    )
    ai_analysis = serializers.DictField(allow_null=True, default=None)
    metadata = serializers.DictField(allow_null=True, default=dict)
    shared_with = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=MAX_READERS,
        default=list,
        help_text="Ids of users who may read (not change) this log.",
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_internal_value(self, data):
        if isinstance(data, dict) and data.get("image_id") is not None and "image_url" in data:
            # With a file linked the plain URL is ignored, so the signed one a read returned
            # is not checked either (an object is sent back as it was read).
            data = {key: value for key, value in data.items() if key != "image_url"}
        return super().to_internal_value(data)

    def validate_id(self, value):
        expected = self.context.get("log_id")
        if expected is not None and value != expected:
            raise serializers.ValidationError("The id of a log cannot change.")
        return value

    def validate_timestamp(self, value):
        if value > timezone.now() + MAX_FUTURE:
            raise serializers.ValidationError("Cannot be more than a day in the future.")
        return value

    def validate_tags(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate_shared_with(self, value):
        return list(dict.fromkeys(value))

    def validate_image_url(self, value):
        if value and not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Only http and https URLs.")
        return value or ""

    def validate_ai_analysis(self, value):
        _json_size_ok(value)
        return value

    def validate_metadata(self, value):
        _json_size_ok(value)
        return value if value is not None else {}


class FoodLogSerializer(serializers.ModelSerializer):
    """The plan's `SimpleFoodItem`, plus fiber, sugar, image_id and the sync timestamps."""

    user_id = serializers.UUIDField(source="owner_id", read_only=True)
    protein = GramsField(read_only=True)
    carbs = GramsField(read_only=True)
    fat = GramsField(read_only=True)
    fiber = GramsField(read_only=True, allow_null=True)
    sugar = GramsField(read_only=True, allow_null=True)
    image_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The linked file, if any."
    )
    image_url = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    shared_with = serializers.SerializerMethodField()

    class Meta:
        model = FoodLog
        fields = [
            "id",
            "user_id",
            "name",
            "calories",
            "protein",
            "carbs",
            "fat",
            "fiber",
            "sugar",
            "timestamp",
            "meal_type",
            "tags",
            "image_id",
            "image_url",
            "ai_analysis",
            "metadata",
            "shared_with",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "string",
            "format": "uri",
            "nullable": True,
            "description": "The linked file as a signed URL that expires (fetch the log "
            "again for a fresh one), else the plain URL given, else null.",
        }
    )
    def get_image_url(self, log: FoodLog) -> str | None:
        # Lists pass context["image_urls"], signed in one go for the page (`image_urls_for`);
        # a single log signs its image here.
        if log.image_id is None:
            return log.image_url or None
        signed = self.context.get("image_urls", {}).get(log.image_id)
        return signed or storage.signed_url(log.image, request=self.context.get("request"))

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, log: FoodLog) -> list[str]:
        return [tag.name for tag in log.tag_list]

    @extend_schema_field(
        serializers.ListField(
            child=serializers.UUIDField(),
            help_text="Whom the log is shared with. A reader sees only their own id.",
        )
    )
    def get_shared_with(self, log: FoodLog) -> list[str]:
        viewer = self.context.get("viewer_id")
        readers = [share.user_id for share in log.share_list]
        if viewer != log.owner_id:
            readers = [reader for reader in readers if reader == viewer]
        return [str(reader) for reader in readers]


def render_food_log(row: dict, *, viewer_id: UUID, image_urls: dict[UUID, str], zone) -> dict:
    """`FoodLogSerializer` of a `selectors.food_log_page` row, without a model instance.

    The tests hold the two to the same bytes; the schema still comes from the serializer.
    """
    readers = row["readers"]
    if viewer_id != row["owner_id"]:
        readers = [reader for reader in readers if reader == viewer_id]
    image_id = row["image_id"]
    return {
        "id": str(row["id"]),
        "user_id": str(row["owner_id"]),
        "name": row["name"],
        "calories": row["calories"],
        "protein": number(row["protein"]),
        "carbs": number(row["carbs"]),
        "fat": number(row["fat"]),
        "fiber": number(row["fiber"]),
        "sugar": number(row["sugar"]),
        "timestamp": iso_datetime(row["timestamp"], zone),
        "meal_type": row["meal_type"],
        "tags": row["tags"],
        "image_id": uuid_text(image_id),
        "image_url": image_urls.get(image_id) if image_id is not None else row["image_url"] or None,
        "ai_analysis": row["ai_analysis"],
        "metadata": row["metadata"],
        "shared_with": [str(reader) for reader in readers],
        "created_at": iso_datetime(row["created_at"], zone),
        "updated_at": iso_datetime(row["updated_at"], zone),
    }


def image_urls_for(logs: Iterable[FoodLog], request) -> dict[UUID, str]:
    """Signed URLs of the logs' linked images (loaded with them), in one cache round trip."""
    return storage.signed_urls(
        [log.image for log in logs if log.image_id is not None], request=request
    )


class FoodLogResponseSerializer(serializers.Serializer):
    """The plan's `FoodLogResponse` list envelope."""

    items = FoodLogSerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    hasMore = serializers.BooleanField()

    class Meta:
        ref_name = "FoodLogResponse"


class FoodLogFilterSerializer(serializers.Serializer):
    """Query parameters of the list. A date in `from`/`to` is a whole day in the user's zone."""

    to = TimeBoundField(upper=True, required=False, help_text="Until (inclusive for a date).")
    meal_type = serializers.ChoiceField(choices=MealType.choices, required=False)
    tag = serializers.CharField(max_length=MAX_TAG_LENGTH, required=False)
    q = serializers.CharField(max_length=100, required=False, help_text="Name contains.")
    include_shared = serializers.BooleanField(
        default=False, help_text="Also logs other users shared with you (read-only)."
    )

    def get_fields(self):
        # `from` is a Python keyword, so it cannot be a class attribute.
        since = TimeBoundField(required=False, help_text="From (inclusive).")
        return {"from": since, **super().get_fields()}

    def validate(self, attrs):
        if "from" in attrs and "to" in attrs and attrs["from"] >= attrs["to"]:
            raise serializers.ValidationError({"to": ["Must be after `from`."]})
        return attrs


class _BoundedListField(serializers.ListField):
    """Refuses an over-long list before validating every element of it."""

    def to_internal_value(self, data):
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class FoodLogBatchSerializer(StrictSerializer):
    items = _BoundedListField(child=FoodLogWriteSerializer(), min_length=1, max_length=MAX_BATCH)

    def validate_items(self, items):
        seen: dict = {}
        errors = {}
        for index, item in enumerate(items):
            if "id" not in item:
                continue
            if item["id"] in seen:
                errors[index] = {"id": [f"Same id as item {seen[item['id']]}."]}
            seen.setdefault(item["id"], index)
        if errors:
            raise serializers.ValidationError(errors)
        return items


class FoodLogBatchResultSerializer(serializers.Serializer):
    items = FoodLogSerializer(many=True, help_text="In the order they were sent.")
    created = serializers.IntegerField()
    existing = serializers.IntegerField(help_text="Ids that were already stored (retries).")


class FoodLogBatchDeleteSerializer(StrictSerializer):
    ids = _BoundedListField(child=serializers.UUIDField(), min_length=1, max_length=MAX_BATCH)


class FoodLogBatchDeleteResultSerializer(serializers.Serializer):
    deleted = serializers.IntegerField(help_text="Live logs of yours that were deleted.")


class StatsQuerySerializer(serializers.Serializer):
    """`from`/`to` are local dates (inclusive); default the last 7 days up to today."""

    to = serializers.DateField(required=False)
    tz = serializers.CharField(
        max_length=64,
        required=False,
        help_text="IANA zone that cuts the days; default the user's setting, else UTC.",
    )

    def get_fields(self):
        return {"from": serializers.DateField(required=False), **super().get_fields()}

    def validate_tz(self, value: str) -> ZoneInfo:
        if value not in available_timezones():
            raise serializers.ValidationError("Unknown IANA time zone.")
        return ZoneInfo(value)

    def validate(self, attrs):
        zone = attrs.get("tz") or self.context["zone"]
        end = attrs.get("to") or timezone.now().astimezone(zone).date()
        for name in ("from", "to"):
            if name in attrs and not within_supported_years(attrs[name]):
                raise serializers.ValidationError(
                    {name: [f"Use a date between the years {MIN_YEAR} and {MAX_YEAR}."]}
                )
        start = attrs.get("from") or end - timedelta(days=6)
        if start > end:
            raise serializers.ValidationError({"to": ["Must not be before `from`."]})
        if (end - start).days + 1 > MAX_STATS_DAYS:
            raise serializers.ValidationError(
                {"from": [f"At most {MAX_STATS_DAYS} days at a time."]}
            )
        return {"start": start, "end": end, "zone": zone}


class NutrientsSerializer(serializers.Serializer):
    calories = serializers.IntegerField()
    protein = serializers.FloatField()
    carbs = serializers.FloatField()
    fat = serializers.FloatField()
    fiber = serializers.FloatField()
    sugar = serializers.FloatField()


class NutritionTotalsSerializer(NutrientsSerializer):
    logs = serializers.IntegerField(help_text="Number of logs.")


class NutritionAveragesSerializer(NutritionTotalsSerializer):
    calories = serializers.FloatField()
    logs = serializers.FloatField()


class ProgressSerializer(serializers.Serializer):
    """Percent of each goal; null where the goal is zero."""

    calories = serializers.FloatField(allow_null=True)
    protein = serializers.FloatField(allow_null=True)
    carbs = serializers.FloatField(allow_null=True)
    fat = serializers.FloatField(allow_null=True)
    fiber = serializers.FloatField(allow_null=True)
    sugar = serializers.FloatField(allow_null=True, help_text="Sugar's goal is an upper limit.")


class GoalsSerializer(NutrientsSerializer):
    calories = serializers.IntegerField(help_text="kcal per day")


class DayStatsSerializer(NutritionTotalsSerializer):
    date = serializers.DateField()
    progress = ProgressSerializer(help_text="Percent of each daily goal.")


class MealTypeTotalsSerializer(serializers.Serializer):
    def get_fields(self):
        return {meal: NutritionTotalsSerializer() for meal in [*MealType.values, UNSPECIFIED_MEAL]}


class NutritionStatsSerializer(serializers.Serializer):
    to = serializers.DateField()
    tz = serializers.CharField()
    days = DayStatsSerializer(many=True, help_text="Every day of the range, oldest first.")
    totals = NutritionTotalsSerializer()
    averages = NutritionAveragesSerializer(
        help_text="Per day, over the days that have at least one log."
    )
    days_logged = serializers.IntegerField()
    days_in_range = serializers.IntegerField()
    by_meal_type = MealTypeTotalsSerializer()
    goals = GoalsSerializer()
    goal_source = serializers.ChoiceField(
        choices=["preferences", "profile", "default"],
        help_text=(
            "`preferences`: the numbers set in preferences.daily_goals (calories, protein, "
            "carbs, fat, fiber, sugar); nutrients left out are computed as below, from its "
            "calories when set; `profile`: Mifflin-St Jeor BMR from weight, height, birthday and "
            "gender, times the activity factor of preferences.activity_level (sedentary 1.2, "
            "light 1.375 (default), moderate 1.55, active 1.725, very_active 1.9), -500 kcal "
            "for lose_weight, +300 for gain_muscle, never below 1200; `default`: the profile "
            "lacks weight, height or birthday, so 2000 kcal. Macros: protein 1.2-2.0 g per kg "
            "(by fitness goal) when the weight is known, else 10% of kcal; fat 35% of kcal; "
            "carbs the rest; fiber 14 g per 1000 kcal; sugar (a limit) 10% of kcal."
        ),
    )
    progress = ProgressSerializer(help_text="Averages as percent of each daily goal.")

    def get_fields(self):
        return {"from": serializers.DateField(), **super().get_fields()}
