from functools import partial

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_zone
from fitness.api import render, responses
from fitness.api.pagination import PagePagination, page_params, page_response
from fitness.api.query import filters_given
from fitness.api.schema import error_responses
from fitness.error_codes import ErrorCode
from fitness.offline import check_if_match, etag_for
from storage.selectors import signed_urls_by_id
from workouts import selectors, services
from workouts.api import serializers as s
from workouts.models import Workout

_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag you read; if the stored version is newer, 412.",
)


def _context(request) -> dict:
    return {"request": request, "measurement_system": request.user.measurement_system}


def _query(serializer_class, request):
    # A plain dict: from a QueryDict, DRF would read a missing boolean as False. The zone
    # is read only for a date bound: it loads the user's row (accounts.authentication).
    query = serializer_class(
        data=request.query_params.dict(), context={"zone": partial(user_zone, request.user)}
    )
    query.is_valid(raise_exception=True)
    return query.validated_data


def _workout_response(request, workout: Workout, *, created: bool = False) -> Response:
    """The plan's `WorkoutResponse`, which every single-workout read and write answers."""
    body = {
        "workout": workout,
        "progress": selectors.current_progress(workout),
        "stats": selectors.workout_stats(user=request.user),
    }
    data = s.WorkoutResponseSerializer(body, context=_context(request)).data
    headers = {"ETag": etag_for(workout)}
    if created:
        return responses.created(request, data, "workouts-detail", workout.pk, headers=headers)
    return Response(data, headers=headers)


def _precondition(request):
    return lambda workout: check_if_match(request, workout)


class WorkoutListView(APIView):
    pagination_class = PagePagination

    @extend_schema(
        tags=["workouts"],
        parameters=[s.WorkoutListQuerySerializer],
        responses={200: s.WorkoutSerializer(many=True)},
        description="The caller's workouts, newest first (with `include_shared`, also "
        "those shared with them or linked to their groups, which carry an `owner` card).",
    )
    def get(self, request):
        filtered = filters_given(request, s.WorkoutListQuerySerializer)
        filters = _query(s.WorkoutListQuerySerializer, request) if filtered else {}
        number, size = page_params(request)
        offset = (number - 1) * size
        include_shared = filters.get("include_shared", False)
        # No filter (`completed=false` is one) and not include_shared: all of the caller's,
        # the list read most.
        if not include_shared and all(
            filters.get(name) is None for name in ("from", "to", "type", "completed", "q")
        ):
            page = selectors.all_workouts_page(request.user, offset=offset, size=size)
        else:
            workouts = selectors.list_workouts(
                user=request.user,
                start=filters.get("from"),
                end=filters.get("to"),
                workout_type=filters.get("type"),
                completed=filters.get("completed"),
                q=filters.get("q"),
                include_shared=include_shared,
            )
            page = selectors.workout_page(
                workouts, offset=offset, size=size, with_owner=include_shared
            )
        photo_ids = (file_id for row in page.rows for file_id in row["photo_ids"])
        urls = signed_urls_by_id(photo_ids, request=request)
        viewer, zone = request.user.pk, render.zone()
        items = [
            s.render_workout(row, viewer_id=viewer, photo_urls=urls, zone=zone) for row in page.rows
        ]
        return page_response(items, page, number)

    @extend_schema(
        tags=["workouts"],
        request=s.WorkoutCreateSerializer,
        responses={
            201: s.WorkoutResponseSerializer,
            200: OpenApiResponse(
                s.WorkoutResponseSerializer,
                description="The id was sent before: the stored workout.",
            ),
            **error_responses(ErrorCode.ID_CONFLICT, ErrorCode.ID_DELETED),
        },
        description="Creates a workout with its exercises. A client-chosen `id` makes the "
        "call idempotent; an id in use by anyone else answers 409 `id_conflict`, the id of "
        "a workout you deleted 410 `id_deleted`. "
        "Without `calories_burned` the calories are estimated (`calories_estimated`).",
    )
    def post(self, request):
        data = s.WorkoutCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workout, created = services.create_workout(owner=request.user, data=data.validated_data)
        return _workout_response(request, workout, created=created)


class WorkoutDetailView(APIView):
    @extend_schema(
        tags=["workouts"],
        responses=s.WorkoutResponseSerializer,
        description="The plan's `WorkoutResponse`: the workout, its current progress and "
        "the caller's workout stats. Sends an `ETag` for later If-Match. A workout shared "
        "with the caller (or linked to one of their groups) reads too, with its `owner` "
        "card; writes to it answer 404.",
    )
    def get(self, request, workout_id):
        workout = selectors.get_workout(user=request.user, workout_id=workout_id)
        return _workout_response(request, workout)

    @extend_schema(
        tags=["workouts"],
        request=s.WorkoutWriteSerializer,
        parameters=[_IF_MATCH],
        responses={
            200: s.WorkoutResponseSerializer,
            **error_responses(ErrorCode.PRECONDITION_FAILED),
        },
        description="Replaces the workout: fields left out take their defaults and the "
        "exercises are replaced as a whole.",
    )
    def put(self, request, workout_id):
        return self._update(request, workout_id, partial=False)

    @extend_schema(
        tags=["workouts"],
        request=s.WorkoutWriteSerializer(partial=True),
        parameters=[_IF_MATCH],
        responses={
            200: s.WorkoutResponseSerializer,
            **error_responses(ErrorCode.PRECONDITION_FAILED),
        },
        description="Changes the fields sent; `exercises`, when sent, replace the old ones.",
    )
    def patch(self, request, workout_id):
        return self._update(request, workout_id, partial=True)

    def _update(self, request, workout_id, *, partial: bool) -> Response:
        data = s.WorkoutWriteSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        workout = services.update_workout(
            owner=request.user,
            workout_id=workout_id,
            data=data.validated_data,
            precondition=_precondition(request),
        )
        return _workout_response(request, workout)

    @extend_schema(
        tags=["workouts"],
        parameters=[_IF_MATCH],
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(ErrorCode.PRECONDITION_FAILED),
        },
    )
    def delete(self, request, workout_id):
        services.delete_workout(
            owner=request.user, workout_id=workout_id, precondition=_precondition(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkoutProgressView(APIView):
    pagination_class = PagePagination

    @extend_schema(
        tags=["workouts"],
        responses=s.WorkoutProgressSerializer(many=True),
        description="The progress history of the workout, newest first.",
    )
    def get(self, request, workout_id):
        history = selectors.list_progress(user=request.user, workout_id=workout_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(history, request, view=self)
        return paginator.get_paginated_response(s.WorkoutProgressSerializer(page, many=True).data)

    @extend_schema(
        tags=["workouts"],
        request=s.ProgressInputSerializer,
        responses={201: s.WorkoutProgressSerializer},
        description="Records progress and answers the resulting `WorkoutProgress`; the "
        "workout completes when every exercise is done. Each call is kept in the history.",
    )
    def post(self, request, workout_id):
        data = s.ProgressInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.record_progress(
            owner=request.user, workout_id=workout_id, **data.validated_data
        )
        return responses.created(
            request, s.WorkoutProgressSerializer(entry).data, "workouts-progress", workout_id
        )


class WorkoutStatsView(APIView):
    @extend_schema(
        tags=["workouts"],
        parameters=[s.StatsQuerySerializer],
        responses={200: s.WorkoutStatsSerializer},
        description="`WorkoutStats`. Totals, by_type and weekly cover from/to (the weekly "
        "series at most the last ten years of it); streak_days and personal_records are "
        "the current ones. Masses are in the user's measurement system.",
    )
    def get(self, request):
        bounds = _query(s.StatsQuerySerializer, request)
        stats = selectors.workout_stats(
            user=request.user, start=bounds.get("from"), end=bounds.get("to")
        )
        # Echoed as sent: the instants they stand for are the client's own dates shifted
        # into the user's zone (and `to` made exclusive), which no client compares with.
        stats.update(
            {name: request.query_params.get(name, "").strip() or None for name in ("from", "to")}
        )
        return Response(s.WorkoutStatsSerializer(stats, context=_context(request)).data)
