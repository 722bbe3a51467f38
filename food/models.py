from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.utils import timezone

from fitness.models import OwnedSyncedModel

MAX_CALORIES = 50_000
MAX_GRAMS = Decimal("10000")
MAX_TAG_LENGTH = 50


class MealType(models.TextChoices):
    BREAKFAST = "breakfast"
    LUNCH = "lunch"
    DINNER = "dinner"
    SNACK = "snack"


def _grams(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=7,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_GRAMS)],
        **kwargs,
    )


class FoodLog(OwnedSyncedModel):
    """One thing a user ate. Tags and shares live in their own tables (below)."""

    name = models.CharField(max_length=255)
    calories = models.IntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(MAX_CALORIES)]
    )
    protein = _grams(default=Decimal(0))
    carbs = _grams(default=Decimal(0))
    fat = _grams(default=Decimal(0))
    fiber = _grams(null=True, blank=True)
    sugar = _grams(null=True, blank=True)
    timestamp = models.DateTimeField(default=timezone.now, help_text="When it was eaten.")
    meal_type = models.CharField(max_length=16, choices=MealType.choices, null=True, blank=True)  # noqa: DJ001 -- "not said" differs from any meal
    # An uploaded photo of the user's; rendered as a fresh signed URL. Deleting the file
    # unlinks it (and touches `updated_at`, see food.receivers) so syncing devices notice.
    image = models.ForeignKey(
        "storage.StoredFile",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A plain external URL, for older clients; only used while no `image` is linked.
    image_url = models.URLField(
        max_length=2048, blank=True, validators=[URLValidator(schemes=["http", "https"])]
    )
    ai_analysis = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            # Live rows only: tombstones pile up at the recent end, where lists start reading.
            models.Index(
                fields=["owner", "timestamp"],
                name="food_log_owner_timeline",
                condition=models.Q(deleted_at__isnull=True),
            ),
            # Pulls read "the owner's rows changed since", tombstones included.
            models.Index(fields=["owner", "sync_version"], name="food_log_owner_sync"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(calories__gte=0, calories__lte=MAX_CALORIES),
                name="food_log_calories_range",
            ),
            *(
                models.CheckConstraint(
                    condition=models.Q(**{f"{field}__gte": 0, f"{field}__lte": MAX_GRAMS}),
                    name=f"food_log_{field}_range",
                )
                for field in ("protein", "carbs", "fat")
            ),
            *(
                models.CheckConstraint(
                    condition=models.Q(**{f"{field}__isnull": True})
                    | models.Q(**{f"{field}__gte": 0, f"{field}__lte": MAX_GRAMS}),
                    name=f"food_log_{field}_range",
                )
                for field in ("fiber", "sugar")
            ),
            models.CheckConstraint(
                condition=models.Q(meal_type__isnull=True)
                | models.Q(meal_type__in=MealType.values),
                name="food_log_meal_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.calories} kcal)"


class FoodLogTag(models.Model):
    """A tag of a log: a table rather than a JSON list so `?tag=` filters portably."""

    food_log = models.ForeignKey(FoodLog, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=MAX_TAG_LENGTH)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["food_log", "name"], name="food_log_tag_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class FoodLogShare(models.Model):
    """A user who may read (never change) someone else's log."""

    food_log = models.ForeignKey(FoodLog, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["food_log", "user"], name="food_log_share_unique"),
        ]
        # "Logs shared with me" starts from the reader.
        indexes = [models.Index(fields=["user", "food_log"], name="food_log_share_reader")]

    def __str__(self) -> str:
        return f"{self.food_log_id} → {self.user_id}"
