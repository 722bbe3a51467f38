"""Food recognition: jobs from a photo, and analysis of a meal from words or a photo."""

import re

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ai_assistant.models import RecognitionJob
from ai_assistant.openapi import AI_ERROR_CODES, PHOTO_ERROR_CODES
from ai_assistant.recognition import jobs, pipeline, text
from ai_assistant.recognition.api import serializers as s
from ai_assistant.recognition.schemas import FoodAnalysisResponse
from fitness.api.parsers import JSONParser
from fitness.api.schema import error_responses
from fitness.error_codes import ErrorCode
from fitness.uploads import read_multipart
from rollout import features
from rollout.api.permissions import feature_enabled
from rollout.features import Feature

_PREFER_WAIT = re.compile(r"(?:^|[\s,;])wait\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_PREFER = OpenApiParameter(
    "Prefer",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="`wait=N` (RFC 7240; N ≤ 30 seconds): wait up to N seconds for the job to "
    "finish. A finished job answers 200, one still pending or running 202.",
)
_LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    response=[200, 202],
    description="Where to follow the job: GET /api/v1/ai/jobs/{id}.",
)
_MULTIPART_OR_JSON = [MultiPartParser, JSONParser]


def _preferred_wait(request) -> float:
    match = _PREFER_WAIT.search(request.headers.get("Prefer", ""))
    if match is None:
        return 0
    return min(int(match[1]), settings.AI_RECOGNITION["MAX_WAIT_SECONDS"])


def _job_response(request, job: RecognitionJob, *, unfinished_status: int) -> Response:
    """The job once finished or after the wait the client asked for (`Prefer: wait`)."""
    job = jobs.wait_for_job(job, seconds=_preferred_wait(request))
    location = request.build_absolute_uri(reverse("ai-job-detail", args=[job.pk]))
    return Response(
        s.RecognitionJobSerializer(job).data,
        status=status.HTTP_200_OK if job.is_finished else unfinished_status,
        headers={"Location": location},
    )


_RECOGNITION_ON = [IsAuthenticated, feature_enabled(Feature.AI_RECOGNITION)]


class RecognizeFoodView(APIView):
    parser_classes = _MULTIPART_OR_JSON
    permission_classes = _RECOGNITION_ON

    @extend_schema(
        tags=["ai"],
        summary="Recognise the food in a photo (a background job)",
        description="Starts a job and answers 202 with it; follow it with GET "
        "/ai/jobs/{id}, `Prefer: wait=N`, or the `job.finished` event on /ws/events/. "
        "The photo is checked, turned upright, stripped of metadata, shrunk to 1024 px "
        "and kept as one of your files (purpose food_photo). A photo analysed before "
        "(the same bytes, within the cache's lifetime) is answered at once: 200 with the "
        "job already succeeded (`result.source` cache), and the photo is kept only with "
        "`log=true` (else `image_id` is null). Counts against the food_recognition "
        "allowance (429 with Retry-After when used up).",
        parameters=[_PREFER, _LOCATION],
        request={
            "multipart/form-data": s.RecognizeFoodSerializer,
            "application/json": s.RecognizeFoodSerializer,
        },
        responses={
            200: s.RecognitionJobSerializer,
            202: s.RecognitionJobSerializer,
            **error_responses(
                ErrorCode.ID_CONFLICT,
                *PHOTO_ERROR_CODES,
                ErrorCode.RATE_LIMITED,
                ErrorCode.AI_UNAVAILABLE,
                ErrorCode.FEATURE_DISABLED,
            ),
        },
    )
    def post(self, request):
        body, _ = read_multipart(request, max_files=1, field="image")
        data = s.RecognizeFoodSerializer(data=body)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if fields.get("image") is not None:
            features.require(Feature.UPLOADS)  # the photo is stored as one of the user's files
        job = jobs.request_recognition(
            owner=request.user,
            upload=fields.get("image"),
            file_id=fields.get("file_id"),
            log=fields["log"],
            job_id=fields.get("id"),
        )
        # 200 once finished (from the cache, with `Prefer: wait`, or with eager Celery),
        # else 202.
        return _job_response(request, job, unfinished_status=status.HTTP_202_ACCEPTED)


class JobDetailView(APIView):
    @extend_schema(
        tags=["ai"],
        summary="A food recognition job",
        description="With `Prefer: wait=N`, waits up to N seconds for the job to finish.",
        parameters=[_PREFER],
        responses={200: s.RecognitionJobSerializer},
    )
    def get(self, request, job_id):
        job = jobs.get_job(user=request.user, job_id=job_id)
        return _job_response(request, job, unfinished_status=status.HTTP_200_OK)


class AnalyzeFoodView(APIView):
    parser_classes = _MULTIPART_OR_JSON
    permission_classes = _RECOGNITION_ON

    @extend_schema(
        tags=["food"],
        summary="Nutrition of a meal, from words or a photo",
        description="`text` is analysed as by POST /ai/food/analyze-text. A photo (`image` "
        "or `file_id`) goes through the recognition pipeline in the request itself (two "
        "analyses, consolidated, cached by the photo's bytes) rather than as a job: "
        "nothing is stored, and the answer is the analysis or an error, never a job to "
        "follow. For a photo to keep, or a meal to log, use POST /ai/food/recognize.",
        request={
            "multipart/form-data": s.AnalyzeFoodSerializer,
            "application/json": s.AnalyzeFoodSerializer,
        },
        responses={
            200: FoodAnalysisResponse,
            **error_responses(*PHOTO_ERROR_CODES, *AI_ERROR_CODES),
        },
    )
    def post(self, request):
        body, _ = read_multipart(request, max_files=1, field="image")
        data = s.AnalyzeFoodSerializer(data=body)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if "text" in fields:
            result = text.analyze_food_text(user=request.user, text=fields["text"])
        else:
            result = pipeline.analyze_food_photo(
                user=request.user, upload=fields.get("image"), file_id=fields.get("file_id")
            )
        return Response(result.model_dump(mode="json"))


class AnalyzeFoodTextView(APIView):
    permission_classes = _RECOGNITION_ON

    @extend_schema(
        tags=["ai"],
        summary="Nutrition of a meal described in words",
        request=s.AnalyzeFoodTextSerializer,
        responses={200: FoodAnalysisResponse, **error_responses(*AI_ERROR_CODES)},
    )
    def post(self, request):
        data = s.AnalyzeFoodTextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = text.analyze_food_text(user=request.user, text=data.validated_data["text"])
        return Response(result.model_dump(mode="json"))
