from functools import partial

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_zone
from analytics.events import FoodSource
from fitness.api import render, responses
from fitness.api.pagination import page_params, page_response
from fitness.api.query import filters_given
from fitness.api.schema import DeleteWithBodySchema, error_responses
from fitness.error_codes import ErrorCode
from fitness.offline import check_if_match, etag_for
from food import selectors, services
from food.api import serializers as s
from food.models import FoodLog
from storage.selectors import signed_urls_by_id

_TAGS = ["food"]
_ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="Version of the log; send it back in If-Match when you change it.",
)
_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag you last read: if the log changed since, the write answers 412.",
)
_PAGE = [
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Items per page (at most 100)."),
]


def _context(request) -> dict:
    return {"request": request, "zone": user_zone(request.user), "viewer_id": request.user.pk}


def _one(request, log: FoodLog, *, created: bool = False) -> Response:
    data = s.FoodLogSerializer(log, context=_context(request)).data
    headers = {"ETag": etag_for(log)}
    if created:
        return responses.created(request, data, "food-log-detail", log.pk, headers=headers)
    return Response(data, headers=headers)


class FoodLogsView(APIView):
    @extend_schema(
        tags=_TAGS,
        operation_id="food_logs_list",
        parameters=[s.FoodLogFilterSerializer, *_PAGE],
        responses={200: s.FoodLogResponseSerializer},
        description="Your logs, newest first (with `include_shared`, also those shared with you).",
    )
    def get(self, request):
        filtered = filters_given(request, s.FoodLogFilterSerializer)
        if filtered:
            zone = partial(user_zone, request.user)
            params = s.FoodLogFilterSerializer(data=request.query_params, context={"zone": zone})
            params.is_valid(raise_exception=True)
            filters = dict(params.validated_data)
        number, size = page_params(request)
        offset = (number - 1) * size
        # No filter and not include_shared: all of the caller's logs, the list read most.
        if not filtered or (
            not filters["include_shared"]
            and all(filters.get(name) is None for name in ("from", "to", "meal_type", "tag", "q"))
        ):
            page = selectors.all_food_logs_page(request.user, offset=offset, size=size)
        else:
            logs = selectors.list_food_logs(
                user=request.user,
                start=filters.pop("from", None),
                end=filters.pop("to", None),
                **filters,
            )
            page = selectors.food_log_page(logs, offset=offset, size=size)
        urls = signed_urls_by_id((row["image_id"] for row in page.rows), request=request)
        viewer, zone = request.user.pk, render.zone()
        items = [
            s.render_food_log(row, viewer_id=viewer, image_urls=urls, zone=zone)
            for row in page.rows
        ]
        return page_response(items, page, number)

    @extend_schema(
        tags=_TAGS,
        request=s.FoodLogWriteSerializer,
        responses={
            (201, "application/json"): OpenApiResponse(s.FoodLogSerializer, description="Created."),
            (200, "application/json"): OpenApiResponse(
                s.FoodLogSerializer,
                description="You already created a log with this id: it is returned as "
                "stored, unchanged.",
            ),
            **error_responses(ErrorCode.ID_CONFLICT, ErrorCode.ID_DELETED),
        },
        parameters=[_ETAG],
        description="`image_id` links one of your uploaded files (400 for anyone else's); "
        "the log then renders it as a signed `image_url`.",
    )
    def post(self, request):
        data = s.FoodLogWriteSerializer(data=request.data, context=_context(request))
        data.is_valid(raise_exception=True)
        # A log carrying the analysis of /ai/food/analyze-text is what the app logs after it.
        source = FoodSource.TEXT if data.validated_data.get("ai_analysis") else FoodSource.MANUAL
        log, created = services.log_food(
            owner=request.user, data=data.validated_data, source=source
        )
        return _one(request, log, created=created)


class FoodLogBatchView(APIView):
    schema = DeleteWithBodySchema()

    @extend_schema(
        tags=_TAGS,
        request=s.FoodLogBatchSerializer,
        responses={
            201: s.FoodLogBatchResultSerializer,
            **error_responses(ErrorCode.ID_CONFLICT, ErrorCode.ID_DELETED),
        },
        description="Up to 500 logs, all or nothing: any invalid item (errors under "
        "`details.fields.items.<index>`, e.g. an `image_id` that is not one of your "
        "files) or refused id (`details.indexes`) stores none. "
        "Ids you already stored count as `existing`, so the same batch can be resent.",
    )
    def post(self, request):
        data = s.FoodLogBatchSerializer(data=request.data, context=_context(request))
        data.is_valid(raise_exception=True)
        result = services.log_foods(owner=request.user, items=data.validated_data["items"])
        context = {**_context(request), "image_urls": s.image_urls_for(result.logs, request)}
        body = {
            "items": s.FoodLogSerializer(result.logs, many=True, context=context).data,
            "created": result.created,
            "existing": result.existing,
        }
        return responses.created(request, body, "food-logs")

    @extend_schema(
        tags=_TAGS,
        request=s.FoodLogBatchDeleteSerializer,
        responses={200: s.FoodLogBatchDeleteResultSerializer},
        description="Deletes up to 500 of your logs; ids that are not yours, unknown or "
        "already deleted are skipped silently.",
    )
    def delete(self, request):
        data = s.FoodLogBatchDeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deleted = services.delete_food_logs(owner=request.user, ids=data.validated_data["ids"])
        return Response({"deleted": deleted})


class FoodLogDetailView(APIView):
    @extend_schema(
        tags=_TAGS,
        responses={200: s.FoodLogSerializer},
        parameters=[_ETAG],
        description="One of your logs, or one shared with you.",
    )
    def get(self, request, log_id):
        return _one(request, selectors.get_food_log(user=request.user, log_id=log_id))

    def _write(self, request, log_id, *, partial_update: bool) -> Response:
        context = {**_context(request), "log_id": log_id}
        data = s.FoodLogWriteSerializer(data=request.data, partial=partial_update, context=context)
        data.is_valid(raise_exception=True)
        log = services.update_food_log(
            owner=request.user,
            log_id=log_id,
            changes=data.validated_data,
            precondition=partial(check_if_match, request),
        )
        return _one(request, log)

    @extend_schema(
        tags=_TAGS,
        request=s.FoodLogWriteSerializer,
        responses={200: s.FoodLogSerializer, **error_responses(ErrorCode.PRECONDITION_FAILED)},
        parameters=[_IF_MATCH, _ETAG],
        description="Replaces your log: fields left out take their defaults, except "
        "`timestamp` and `image_id`, which are kept. Logs shared with you are read-only "
        "(404). An `image_id` that is not one of your files answers 400.",
    )
    def put(self, request, log_id):
        return self._write(request, log_id, partial_update=False)

    @extend_schema(
        tags=_TAGS,
        request=s.FoodLogWriteSerializer,
        responses={200: s.FoodLogSerializer, **error_responses(ErrorCode.PRECONDITION_FAILED)},
        parameters=[_IF_MATCH, _ETAG],
        description="Changes the given fields of your log (`tags` and `shared_with` are "
        "replaced as a whole when given; `image_id: null` unlinks the photo).",
    )
    def patch(self, request, log_id):
        return self._write(request, log_id, partial_update=True)

    @extend_schema(
        tags=_TAGS,
        responses={
            204: OpenApiResponse(
                description="Deleted (a tombstone remains for sync). Repeating the request "
                "answers 204 again."
            ),
            **error_responses(ErrorCode.PRECONDITION_FAILED),
        },
        parameters=[_IF_MATCH],
    )
    def delete(self, request, log_id):
        services.delete_food_log(
            owner=request.user, log_id=log_id, precondition=partial(check_if_match, request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class NutritionStatsView(APIView):
    @extend_schema(
        tags=_TAGS,
        parameters=[s.StatsQuerySerializer],
        responses={200: s.NutritionStatsSerializer},
        description="Per-day totals, averages, totals by meal type and progress against "
        "your daily goals, with days cut in your time zone.",
    )
    def get(self, request):
        params = s.StatsQuerySerializer(
            data=request.query_params, context={"zone": user_zone(request.user)}
        )
        params.is_valid(raise_exception=True)
        zone = params.validated_data["zone"]
        stats = selectors.nutrition_stats(
            user=request.user, **params.validated_data, today=timezone.now().astimezone(zone).date()
        )
        return Response(s.NutritionStatsSerializer(stats).data)
