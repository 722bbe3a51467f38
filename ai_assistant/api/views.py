from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from ai_assistant import services
from ai_assistant.api import serializers as s
from ai_assistant.schemas import FoodAnalysisResponse
from fitness.api.schema import error_responses
from fitness.error_codes import ErrorCode

# The failures every endpoint that calls the model can answer. `rate_limited` says in
# `details.reason` whether this user's allowance (user_limit) or the provider's quota
# (provider_quota) is used up.
AI_ERROR_CODES = (
    ErrorCode.CONTENT_BLOCKED,
    ErrorCode.RATE_LIMITED,
    ErrorCode.GENERATION_ERROR,
    ErrorCode.INVALID_KEY,
    ErrorCode.API_DISABLED,
    ErrorCode.AI_UNAVAILABLE,
    ErrorCode.NETWORK_ERROR,
    ErrorCode.TIMEOUT,
)


class AnalyzeFoodTextView(APIView):
    @extend_schema(
        tags=["ai"],
        summary="Nutrition of a meal described in words",
        request=s.AnalyzeFoodTextSerializer,
        responses={200: FoodAnalysisResponse, **error_responses(*AI_ERROR_CODES)},
    )
    def post(self, request):
        data = s.AnalyzeFoodTextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.analyze_food_text(user=request.user, text=data.validated_data["text"])
        return Response(result.model_dump(mode="json"))
