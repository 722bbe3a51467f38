from collections.abc import AsyncIterator, Iterator
from itertools import chain

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.text import compress_sequence
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from fitness.api.schema import error_responses
from fitness.error_codes import ErrorCode
from sync import selectors, services
from sync.api import serializers as s

_TAGS = ["sync"]


# What the request's thread renders at a time before the event loop sends it: a small pull
# is one piece, a big one streams in steps of about this size (plus one piece).
BATCH_BYTES = 64 * 1024


def _stream(request, pieces: Iterator[bytes]) -> HttpResponse | StreamingHttpResponse:
    """A pull's body as it is rendered, gzipped when the client accepts it.

    The view renders up to BATCH_BYTES itself: a pull that ends there (nearly every
    incremental one) is answered as a plain response, without a stream's hops to the
    request's thread and back, each of which costs a thread's and the event loop's
    wake-up, more than rendering a small table. A longer one streams: under ASGI the
    pieces must come from an async iterator (Django otherwise reads a synchronous one
    into memory first), each step rendered in the request's thread.
    """
    compress = "gzip" in request.headers.get("Accept-Encoding", "")
    if compress:
        pieces = compress_sequence(pieces)
    first, more = _gather(pieces)
    if not more:
        response = HttpResponse(first, content_type="application/json")
    elif isinstance(request._request, ASGIRequest):
        response = StreamingHttpResponse(_async(first, pieces), content_type="application/json")
    else:
        response = StreamingHttpResponse(chain([first], pieces), content_type="application/json")
    if compress:
        response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def _gather(pieces: Iterator[bytes]) -> tuple[bytes, bool]:
    """The next pieces, joined, up to BATCH_BYTES; and whether any may follow."""
    gathered: list[bytes] = []
    size = 0
    for piece in pieces:
        gathered.append(piece)
        size += len(piece)
        if size >= BATCH_BYTES:
            return b"".join(gathered), True
    return b"".join(gathered), False


async def _async(first: bytes, pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    step = sync_to_async(_gather, thread_sensitive=True)
    more = True
    while more:
        batch, more = await step(pieces)
        if batch:
            yield batch


class SyncView(APIView):
    @extend_schema(
        tags=_TAGS,
        operation_id="sync_pull",
        parameters=[s.PullQuerySerializer],
        responses={200: s.PullResponseSerializer},
        description="WatermelonDB's pull: every row you read (yours, shared with you, "
        "through your groups) changed "
        "since `last_pulled_at`, as `{changes: {table: {created, updated, deleted}}, "
        "timestamp}`; raw snake_case columns, times in epoch milliseconds, JSON values as "
        "strings. Streamed, and gzipped with `Accept-Encoding: gzip`. A row may come again "
        "in a later pull; none is ever missed.",
    )
    def get(self, request):
        params = s.PullQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        migration = params.validated_data.get("migration") or {}
        pull = selectors.pull_changes(
            user=request.user,
            last_pulled_at=params.validated_data["last_pulled_at"],
            migration=selectors.Migration(
                new_tables=migration.get("tables", frozenset()),
                changed_tables=migration.get("columns", frozenset()),
            ),
        )
        return _stream(request, pull.chunks())

    @extend_schema(
        tags=_TAGS,
        operation_id="sync_push",
        parameters=[s.PushQuerySerializer],
        # The changes object's keys are table names, which a serializer's fields cannot say.
        request={
            "application/json": {
                "type": "object",
                "description": "`{table: {created: [...], updated: [...], deleted: [ids]}}`",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "created": {"type": "array", "items": {"type": "object"}},
                        "updated": {"type": "array", "items": {"type": "object"}},
                        "deleted": {"type": "array", "items": {"type": "string"}},
                    },
                },
            }
        },
        responses={
            200: OpenApiResponse(
                s.PushResponseSerializer,
                description="Applied; records that can never be applied are listed, with why.",
            ),
            **error_responses(ErrorCode.SYNC_CONFLICT),
        },
        description="WatermelonDB's push: the bare changes object. One transaction, through "
        "the REST endpoints' rules. A record changed on the server since `last_pulled_at` "
        "applies nothing: 409 `sync_conflict` with `details.conflicts` (`{table: [ids]}`); "
        "pull and push again.",
    )
    def post(self, request):
        params = s.PushQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        changes = s.ChangesSerializer(data=request.data)
        changes.is_valid(raise_exception=True)
        result = services.push_changes(
            user=request.user,
            changes=changes.validated_data,
            last_pulled_at=params.validated_data["last_pulled_at"],
        )
        rejected = {table: list(ids) for table, ids in result.rejected.items()}
        return Response({"experimentalRejectedIds": rejected, "reasons": result.rejected})
