"""The food-log list renders rows without the serializer (food.api.serializers.render_food_log);
it must answer exactly the bytes `FoodLogSerializer` would."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from food import selectors
from food.api import serializers as s
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.food.factories import FoodLogFactory, FoodLogShareFactory, FoodLogTagFactory
from tests.food.test_api_logs import LOGS
from tests.storage.factories import stored_file

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def varied_logs(owner, reader, other_reader):
    """Every kind of value a field can hold: nulls, decimals, JSON, tags, readers, photos."""
    plain = FoodLogFactory(
        owner=owner,
        name="Crème brûlée “deluxe” 🍮",
        calories=0,
        protein=Decimal("0.00"),
        carbs=Decimal("9999.99"),
        fat=Decimal("0.05"),
        fiber=Decimal("12.30"),
        sugar=None,
        meal_type=None,
        image_url="https://example.com/a.jpg?x=1&y=<2>",
        ai_analysis={"confidence": 0.875, "items": [{"n": 1e-07, "big": 10**20}], "ok": True},
        metadata={"nested": {"list": [1, 2.5, None, "é"]}},
        timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    for name in ("zeta", "alpha", "mid"):
        FoodLogTagFactory(food_log=plain, name=name)
    FoodLogShareFactory(food_log=plain, user=reader)
    FoodLogShareFactory(food_log=plain, user=other_reader)
    photo = FoodLogFactory(
        owner=owner,
        image=stored_file(owner),
        timestamp=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    )
    FoodLogShareFactory(food_log=photo, user=reader)
    FoodLogFactory(owner=owner, metadata={}, ai_analysis=None)
    return [plain, photo]


def serializer_page_bytes(logs, viewer) -> bytes:
    """The list as the serializer and DRF's paginator rendered it before."""
    request = APIRequestFactory().get(LOGS)
    request.user = viewer
    page = list(logs)
    context = {"request": request, "viewer_id": viewer.pk}
    context["image_urls"] = s.image_urls_for(page, request)
    items = s.FoodLogSerializer(page, many=True, context=context).data
    return JSONRenderer().render({"items": items, "total": len(page), "page": 1, "hasMore": False})


@pytest.mark.parametrize("as_reader", [False, True], ids=["owner", "reader"])
def test_list_answers_the_serializers_bytes(as_reader):
    owner, reader, other_reader = UserFactory(), UserFactory(), UserFactory()
    varied_logs(owner, reader, other_reader)
    viewer = reader if as_reader else owner
    logs = selectors.list_food_logs(user=viewer, include_shared=as_reader)

    response = client_for(viewer).get(
        LOGS, {"page_size": 100, "include_shared": str(as_reader).lower()}
    )

    assert response.status_code == 200
    assert response.content == serializer_page_bytes(logs, viewer)
    assert b"/storage/signed/" in response.content


def test_render_matches_the_serializer_field_by_field(rf):
    owner, reader = UserFactory(), UserFactory()
    logs = varied_logs(owner, reader, UserFactory())
    queryset = selectors.list_food_logs(user=owner)
    rows = selectors.food_log_page(queryset, offset=0, size=10).rows
    request = rf.get(LOGS)
    urls = s.image_urls_for(logs, request)

    rendered = [
        s.render_food_log(row, viewer_id=owner.pk, image_urls=urls, zone=UTC) for row in rows
    ]

    expected = s.FoodLogSerializer(
        list(queryset),
        many=True,
        context={"request": request, "viewer_id": owner.pk, "image_urls": urls},
    ).data
    assert JSONRenderer().render(rendered) == JSONRenderer().render(expected)
