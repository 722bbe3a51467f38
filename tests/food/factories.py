from decimal import Decimal

import factory
from django.utils import timezone

from food.models import FoodLog, FoodLogShare, FoodLogTag
from tests.factories import UserFactory


class FoodLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FoodLog

    owner = factory.SubFactory(UserFactory)
    name = factory.Faker("word")
    calories = 400
    protein = Decimal("20.00")
    carbs = Decimal("50.00")
    fat = Decimal("10.00")
    timestamp = factory.LazyFunction(timezone.now)
    meal_type = "lunch"


class FoodLogTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FoodLogTag

    food_log = factory.SubFactory(FoodLogFactory)
    name = "vegan"


class FoodLogShareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FoodLogShare

    food_log = factory.SubFactory(FoodLogFactory)
    user = factory.SubFactory(UserFactory)
