"""GET /config: what the app reads on every start, cheap to poll with If-None-Match."""

from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from rollout import selectors
from rollout.api.serializers import ClientConfigSerializer
from rollout.flags import Caller

_HEADERS = [
    OpenApiParameter(
        "X-Install-Id",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="A random id the app makes once per install (8-128 of A-Z a-z 0-9 . _ : "
        "-): signed out, percentage flags are bucketed by it.",
    ),
    OpenApiParameter(
        "X-Platform", OpenApiTypes.STR, OpenApiParameter.HEADER, enum=["ios", "android"]
    ),
    OpenApiParameter(
        "X-App-Version",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="The app's version (2.4.1), for flags limited to a version range.",
    ),
    OpenApiParameter(
        "If-None-Match",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="The ETag last read: unchanged, the answer is 304 without a body.",
    ),
]


class ConfigView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["config"],
        summary="Feature flags, switches, values and minimum app versions for the caller",
        description="Signed in or not. Flags are evaluated for the caller: everyone, staff, "
        "listed users or groups, a percentage of users (stable per user; signed out, per "
        "`X-Install-Id`), narrowed by platform and app-version range. `flags` also holds "
        "the kill switches (`ai_recognition`, `ai_chat`, `ai_recommendations`, "
        "`form_check`, `uploads`). Answers `ETag`; with a matching `If-None-Match`, 304. "
        "Never refused by the app-version gate.",
        parameters=_HEADERS,
        responses={200: ClientConfigSerializer, 304: OpenApiResponse(description="Unchanged.")},
    )
    def get(self, request):
        body = selectors.client_config(Caller.from_request(request))
        etag = f'"{body["etag"]}"'
        headers = {
            "ETag": etag,
            # Per caller, and to be revalidated on every use: the 304 is what keeps it cheap.
            "Cache-Control": "private, no-cache",
            "Vary": "Authorization, X-Install-Id, X-Platform, X-App-Version",
        }
        # Weak comparison, as RFC 9110 asks of If-None-Match.
        offered = {
            tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))
        }
        if etag in offered or "*" in offered:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(body, headers=headers)
