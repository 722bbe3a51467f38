"""Exercise form check from photos (`POST /workouts/form-check`)."""

from drf_spectacular.utils import extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ai_assistant.formcheck import service
from ai_assistant.formcheck.api import serializers as s
from ai_assistant.formcheck.schemas import FormCheckResponse
from ai_assistant.openapi import AI_ERROR_CODES, PHOTO_ERROR_CODES
from fitness.api.parsers import JSONParser
from fitness.api.schema import error_responses
from fitness.error_codes import ErrorCode
from fitness.uploads import read_multipart
from rollout.api.permissions import feature_enabled
from rollout.features import Feature


class FormCheckView(APIView):
    parser_classes = [MultiPartParser, JSONParser]
    permission_classes = [IsAuthenticated, feature_enabled(Feature.FORM_CHECK)]

    @extend_schema(
        tags=["workouts"],
        summary="AI check of exercise form from photos",
        description="Counts against the form_check allowance (429 with Retry-After). With "
        "`workout_id` (one of your workouts, else 404) the check is kept as that "
        "workout's `ai_form_check`.",
        request={
            "multipart/form-data": s.CheckFormSerializer,
            "application/json": s.CheckFormSerializer,
        },
        responses={
            200: FormCheckResponse,
            **error_responses(ErrorCode.NOT_FOUND, *PHOTO_ERROR_CODES, *AI_ERROR_CODES),
        },
    )
    def post(self, request):
        body, _ = read_multipart(request, max_files=service.MAX_PHOTOS, field="image")
        data = s.CheckFormSerializer(data=body)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        result = service.check_form(
            user=request.user,
            exercise=fields["exercise"],
            uploads=fields["image"],
            file_ids=fields["file_id"],
            workout_id=fields["workout_id"],
        )
        return Response(result.model_dump(mode="json"))
