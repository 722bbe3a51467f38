"""fitness.inserts: which rows an insert stored, and how, from the INSERT alone."""

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError

from fitness.inserts import insert_rows
from food.models import FoodLog
from tests.food.factories import FoodLogFactory
from workouts.models import Workout

pytestmark = pytest.mark.django_db


def test_skip_taken_leaves_out_taken_keys_and_returns_only_the_inserted(user, other_user):
    taken = FoodLogFactory(owner=other_user, name="Theirs")
    fresh = FoodLog(id=uuid.uuid4(), owner=user, name="Mine", calories=1)
    clash = FoodLog(id=taken.pk, owner=user, name="Clash", calories=2)

    inserted = insert_rows([fresh, clash], skip_taken=True)

    assert inserted == [fresh]
    assert not fresh._state.adding
    assert FoodLog.objects.get(pk=taken.pk).name == "Theirs"
    assert FoodLog.objects.filter(owner=user).count() == 1


def test_without_skip_taken_a_taken_key_raises(user):
    taken = FoodLogFactory(owner=user)

    with pytest.raises(IntegrityError):
        insert_rows([FoodLog(id=taken.pk, owner=user, name="x", calories=1)])


def test_read_back_sets_the_values_as_the_database_stored_them(user):
    workout = Workout(owner=user, name="Run", type="strength", volume_kg=Decimal("1.23456789"))

    [stored] = insert_rows([workout], read_back=True)

    read = Workout.objects.get(pk=workout.pk)
    assert stored.volume_kg == read.volume_kg == Decimal("1.2346")
    assert str(stored.volume_kg) == str(read.volume_kg)
    assert stored.created_at == read.created_at and stored.updated_at == read.updated_at


def test_skip_taken_needs_the_keys(user):
    with pytest.raises(ValueError, match="keys"):
        insert_rows([Workout(id=None, owner=user, name="x", type="strength")], skip_taken=True)
