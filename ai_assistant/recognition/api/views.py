"""Photo endpoints: food recognition jobs, food analysis (text or photo), form check."""

import re

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ai_assistant import formcheck, jobs, recognition, services
from ai_assistant.api import photo_serializers as s
from ai_assistant.api.views import AI_ERRORS
from ai_assistant.models import RecognitionJob
from ai_assistant.schemas import FoodAnalysisResponse
from ai_assistant.schemas_form_check import FormCheckResponse
from fitness.api.parsers import JSONParser
from fitness.api.schema import ErrorEnvelopeSerializer, error_responses
from storage.uploads import limit_multipart_upload

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
_PHOTO_ERRORS = {
    413: OpenApiResponse(
        ErrorEnvelopeSerializer,
        description="file_too_large / payload_too_large past the per-file limit "
        "(STORAGE_MAX_UPLOAD_MB); quota_exceeded when the user's storage is full",
    ),
    415: OpenApiResponse(
        ErrorEnvelopeSerializer,
        description="unsupported_media_type: not a JPEG, PNG, WebP or HEIC/HEIF image",
    ),
}
_MULTIPART_OR_JSON = [MultiPartParser, JSONParser]


def _read_body(request, *, max_files: int):
    """request.data, with oversized uploads refused while they stream in."""
    limit_multipart_upload(
        request, max_files=max_files, max_file_bytes=settings.STORAGE_MAX_UPLOAD_BYTES
    )
    try:
        return request.data
    except TooManyFilesSent as exc:
        raise ValidationError({"image": [f"At most {max_files} files per request."]}) from exc


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


class RecognizeFoodView(APIView):
    parser_classes = _MULTIPART_OR_JSON

    @extend_schema(
        tags=["ai"],
        summary="Recognise the food in a photo (a background job)",
        description="Starts a job and answers 202 with it; follow it with GET "
        "/ai/jobs/{id}, `Prefer: wait=N`, or the `job.finished` event on /ws/events/. "
        "The photo is checked, turned upright, stripped of metadata, shrunk to 1024 px "
        "and kept as one of your files (purpose food_photo). Counts against the "
        "food_recognition allowance (429 with Retry-After when used up).",
        parameters=[_PREFER, _LOCATION],
        request={
            "multipart/form-data": s.RecognizeFoodSerializer,
            "application/json": s.RecognizeFoodSerializer,
        },
        responses={
            200: s.RecognitionJobSerializer,
            202: s.RecognitionJobSerializer,
            **error_responses(400),
            409: OpenApiResponse(
                ErrorEnvelopeSerializer,
                description="id_conflict: the id is another user's job",
            ),
            **_PHOTO_ERRORS,
            429: AI_ERRORS[429],
            503: AI_ERRORS[503],
        },
    )
    def post(self, request):
        data = s.RecognizeFoodSerializer(data=_read_body(request, max_files=1))
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        job = jobs.request_recognition(
            owner=request.user,
            upload=fields.get("image"),
            file_id=fields.get("file_id"),
            log=fields["log"],
            job_id=fields.get("id"),
        )
        # 200 once finished (with `Prefer: wait`, or with eager Celery), else 202.
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
        responses={200: FoodAnalysisResponse, **_PHOTO_ERRORS, **AI_ERRORS},
    )
    def post(self, request):
        data = s.AnalyzeFoodSerializer(data=_read_body(request, max_files=1))
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if "text" in fields:
            result = services.analyze_food_text(user=request.user, text=fields["text"])
        else:
            result = recognition.analyze_food_photo(
                user=request.user, upload=fields.get("image"), file_id=fields.get("file_id")
            )
        return Response(result.model_dump(mode="json"))


class FormCheckView(APIView):
    parser_classes = _MULTIPART_OR_JSON

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
        responses={200: FormCheckResponse, **error_responses(404), **_PHOTO_ERRORS, **AI_ERRORS},
    )
    def post(self, request):
        body = _read_body(request, max_files=formcheck.MAX_PHOTOS)
        data = s.CheckFormSerializer(data=body)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        result = formcheck.check_form(
            user=request.user,
            exercise=fields["exercise"],
            uploads=fields["image"],
            file_ids=fields["file_id"],
            workout_id=fields["workout_id"],
        )
        return Response(result.model_dump(mode="json"))
