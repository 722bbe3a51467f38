from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from ai_assistant import services
from ai_assistant.api import serializers as s
from ai_assistant.schemas import FoodAnalysisResponse
from fitness.api.schema import ErrorEnvelopeSerializer


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorEnvelopeSerializer, description=description)


# The failures every endpoint that calls the model can answer.
AI_ERRORS = {
    422: _error("content_blocked: the provider's safety filters refused the content"),
    429: _error(
        "rate_limited (see Retry-After): this user's AI allowance "
        "(details.reason=user_limit) or the provider's quota (provider_quota) is used up"
    ),
    502: _error(
        "generation_error (unusable answer), invalid_key or api_disabled "
        "(the server's provider configuration)"
    ),
    503: _error("ai_unavailable (no AI configured) or network_error (provider unreachable)"),
    504: _error("timeout: the provider did not answer in time"),
}


class AnalyzeFoodTextView(APIView):
    @extend_schema(
        tags=["ai"],
        summary="Nutrition of a meal described in words",
        request=s.AnalyzeFoodTextSerializer,
        responses={200: FoodAnalysisResponse, **AI_ERRORS},
    )
    def post(self, request):
        data = s.AnalyzeFoodTextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.analyze_food_text(user=request.user, text=data.validated_data["text"])
        return Response(result.model_dump(mode="json"))
