"""The one way a view answers 201 Created: with `Location`, the URL of what it created
(RFC 9110 §15.3.2), so a client never rebuilds a path from an id it parsed out of the body."""

from typing import Any

from django.urls import reverse
from rest_framework import status
from rest_framework.response import Response


def created(request, data: Any, url_name: str, *args: Any, headers: dict | None = None) -> Response:
    location = request.build_absolute_uri(reverse(url_name, args=args))
    return Response(
        data, status=status.HTTP_201_CREATED, headers={**(headers or {}), "Location": location}
    )
