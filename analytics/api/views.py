from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import services
from analytics.api import serializers as s
from fitness.api import ratelimit
from fitness.api.errors import RateLimited
from fitness.api.schema import error_responses
from fitness.api.throttling import parse_rate
from fitness.error_codes import ErrorCode


class ClientEventsView(APIView):
    @extend_schema(
        tags=["analytics"],
        request=s.ClientEventBatchSerializer,
        responses={
            202: s.ClientEventBatchResultSerializer,
            **error_responses(ErrorCode.RATE_LIMITED),
        },
        description="Up to 100 of the app's own events (screen views, taps) per call, from "
        "an allow-list of names. Each carries the client's `id`: an id sent before counts as "
        "a duplicate and is stored once. Nothing is stored while the user's "
        "`privacy_settings.analytics` is false (then `accepted` is 0). Limited per user "
        "(ANALYTICS_CLIENT_RATE, 60/minute).",
    )
    def post(self, request):
        # Counted before validation: a flood of malformed batches is load too.
        limit, window = parse_rate(settings.ANALYTICS_CLIENT_RATE)
        state = ratelimit.hit(
            f"user:analytics_events:{request.user.pk}", limit=limit, window=window
        )
        if state.exceeded:
            raise RateLimited(state.retry_after)
        data = s.ClientEventBatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.record_client_events(
            user=request.user, events=data.validated_data["events"]
        )
        return Response(
            {"accepted": result.accepted, "duplicates": result.duplicates},
            status=status.HTTP_202_ACCEPTED,
        )
