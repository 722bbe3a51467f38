import pytest
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.models import User
from fitness.api.pagination import PagePagination, _PageParams, page_params
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _page(query: str):
    request = APIRequestFactory().get(f"/x{query}")
    paginator = PagePagination()
    items = paginator.paginate_queryset(User.objects.order_by("email"), Request(request))
    return paginator.get_paginated_response([u.email for u in items]).data


def test_pagination_envelope_and_has_more():
    UserFactory.create_batch(5)
    first = _page("?page=1&page_size=2")
    assert first["total"] == 5 and first["page"] == 1 and first["hasMore"] is True
    assert len(first["items"]) == 2
    last = _page("?page=3&page_size=2")
    assert len(last["items"]) == 1 and last["hasMore"] is False


def test_pagination_past_the_end_is_empty_not_404():
    UserFactory.create_batch(2)
    body = _page("?page=9")
    assert body["items"] == [] and body["total"] == 2 and body["hasMore"] is False


@pytest.mark.parametrize("query", ["?page=0", "?page=x", "?page_size=101", "?page_size=0"])
def test_pagination_rejects_bad_params(query):
    with pytest.raises(ValidationError):
        _page(query)


def test_pagination_uses_two_queries_whatever_the_page_size(django_assert_max_num_queries):
    UserFactory.create_batch(30)
    for size in (1, 30):
        with django_assert_max_num_queries(2):
            _page(f"?page_size={size}")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?page=2",
        "?page_size=100",
        "?page=3&page_size=7",
        "?page=1&page=4",
        "?page_size=101",
        "?page=0",
        "?page=-1",
        "?page=%202",
        "?page=2.0",
        "?page=%C2%B2",
        "?page_size=",
        "?page=x",
        "?page=0012",
    ],
)
def test_page_params_read_what_the_serializer_reads(query):
    request = Request(APIRequestFactory().get(f"/x{query}"))
    params = _PageParams(data=request.query_params)
    if params.is_valid():
        expected = (params.validated_data["page"], params.validated_data.get("page_size") or 20)
        assert page_params(request) == expected
    else:
        with pytest.raises(ValidationError):
            page_params(request)
