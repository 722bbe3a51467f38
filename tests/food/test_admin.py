from datetime import UTC, datetime

import pytest

from tests.factories import UserFactory
from tests.food.factories import FoodLogFactory, FoodLogShareFactory, FoodLogTagFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/food/foodlog/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def listed(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_admin_finds_food_logs_by_user_email_and_name(staff_client):
    FoodLogFactory(owner=UserFactory(email="alice@example.com"), name="Bagel")
    FoodLogFactory(owner=UserFactory(email="bob@example.com"), name="Burrito")

    by_email = listed(staff_client.get(CHANGELIST, {"q": "alice@"}))
    by_name = listed(staff_client.get(CHANGELIST, {"q": "burrito"}))

    assert "Bagel" in by_email and "Burrito" not in by_email
    assert "Burrito" in by_name and "Bagel" not in by_name


def test_admin_filters_food_logs_by_meal_type_and_date(staff_client):
    FoodLogFactory(
        name="Pancakes", meal_type="breakfast", timestamp=datetime(2026, 3, 1, tzinfo=UTC)
    )
    FoodLogFactory(name="Steak", meal_type="dinner", timestamp=datetime(2026, 5, 1, tzinfo=UTC))

    breakfast = listed(staff_client.get(CHANGELIST, {"meal_type__exact": "breakfast"}))
    in_may = listed(
        staff_client.get(CHANGELIST, {"timestamp__year": "2026", "timestamp__month": "5"})
    )

    assert "Pancakes" in breakfast and "Steak" not in breakfast
    assert "Steak" in in_may and "Pancakes" not in in_may


def test_admin_shows_a_food_log_with_its_tags_and_readers(staff_client):
    log = FoodLogFactory(name="Curry")
    FoodLogTagFactory(food_log=log, name="spicy")
    reader = FoodLogShareFactory(food_log=log).user

    page = listed(staff_client.get(f"{CHANGELIST}{log.pk}/change/"))

    assert "Curry" in page and "spicy" in page and str(reader.pk) in page
