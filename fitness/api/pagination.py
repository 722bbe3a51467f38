from django.core.paginator import InvalidPage, Paginator
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from fitness.rows import RowPage

# A page's size when the query names none, and the largest one may ask for.
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class _PageParams(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False)


def _plain(value: str | None, default: int, most: int | None = None) -> int | None:
    """`value` as `_PageParams` reads it when it is plain digits in range (or absent);
    None for anything else, which the serializer then reads or refuses."""
    if value is None:
        return default
    if not (value.isascii() and value.isdecimal()):
        return None
    number = int(value)
    return number if number >= 1 and (most is None or number <= most) else None


def page_params(request) -> tuple[int, int]:
    """The page number and size a list asks for (400 when they are not numbers in range)."""
    # Building the serializer cost more than the rest of reading a page's parameters: the
    # plain numbers every client sends are read directly, as it would read them.
    query = request.query_params
    page = _plain(query.get("page"), 1)
    size = _plain(query.get("page_size"), PAGE_SIZE, MAX_PAGE_SIZE)
    if page is not None and size is not None:
        return page, size
    params = _PageParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data["page"], (params.validated_data.get("page_size") or PAGE_SIZE)


def page_response(items: list, page: RowPage, number: int) -> Response:
    """The envelope of a page read as rows (fitness.rows)."""
    return Response({"items": items, "total": page.total, "page": number, "hasMore": page.has_more})


class PagePagination(PageNumberPagination):
    """The plan's list envelope: `{items, total, page, hasMore}`.

    A page past the end is an empty page rather than a 404: an offline client paging
    through a list that shrank meanwhile should simply see that it is done.
    """

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        params = _PageParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        self.request = request
        self.page_number = params.validated_data["page"]
        size = params.validated_data.get("page_size") or self.page_size
        paginator = Paginator(queryset, size)
        self.total = paginator.count
        try:
            self.page = paginator.page(self.page_number)
            items = list(self.page)
            self.has_more = self.page.has_next()
        except InvalidPage:
            items, self.has_more = [], False
        return items

    def get_paginated_response(self, data):
        return Response(
            {"items": data, "total": self.total, "page": self.page_number, "hasMore": self.has_more}
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["items", "total", "page", "hasMore"],
            "properties": {
                "items": schema,
                "total": {"type": "integer", "example": 42},
                "page": {"type": "integer", "example": 1},
                "hasMore": {"type": "boolean", "example": True},
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": "Items per page (at most 100).",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        ]
