"""`fitness.api.query.filters_given`: a list builds its filter serializer only when the
query names one of its fields."""

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from fitness.api.query import filters_given
from food.api.serializers import FoodLogFilterSerializer


@pytest.mark.parametrize(
    ("query", "given"),
    [
        ("", False),
        ("?page=2&page_size=50", False),
        ("?unknown=1", False),
        ("?from=2026-01-01", True),
        ("?include_shared=false", True),
        ("?q=", True),
    ],
)
def test_only_a_field_of_the_serializer_counts_as_a_filter(query, given):
    request = Request(APIRequestFactory().get(f"/x{query}"))

    assert filters_given(request, FoodLogFilterSerializer) is given
