from functools import partial

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from fitness.api import responses
from fitness.api.errors import ApiError, NotFound
from fitness.api.schema import DeleteWithBodySchema, error_responses
from fitness.error_codes import ErrorCode
from fitness.offline import check_if_match, etag_for
from fitness.uploads import FileTooLarge, read_multipart
from rollout.api.permissions import feature_enabled
from rollout.features import Feature
from storage import selectors, services, signing
from storage.api import serializers as s
from storage.images import OUTPUT_FORMATS
from storage.models import StoredFile
from storage.services import ZIP_CONTENT_TYPE

TAG = "storage"
_UPLOADS_ON = [IsAuthenticated, feature_enabled(Feature.UPLOADS)]


def _render(
    serializer_class, files: list[StoredFile], request, *, variant: str | None = None
) -> list[dict]:
    """Serialises files with their URLs, all signed (or read from cache) in one go."""
    signed = selectors.grants(files, variant=variant, request=request)
    return serializer_class(files, many=True, context={"request": request, "signed": signed}).data


def _error_item(index: int, error: ApiError) -> dict:
    return {
        "index": index,
        "error": {"code": error.code, "message": error.message, "details": error.details},
    }


def _one(request, stored: StoredFile, *, created: bool = False) -> Response:
    body = _render(s.StorageResponseSerializer, [stored], request)[0]
    headers = {"ETag": etag_for(stored)}
    if created:
        return responses.created(request, body, "storage-file", stored.pk, headers=headers)
    return Response(body, headers=headers)


_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag you last read: if the file changed since, the delete answers 412.",
)


class UploadView(APIView):
    parser_classes = [MultiPartParser]
    permission_classes = _UPLOADS_ON

    @extend_schema(
        tags=[TAG],
        request={"multipart/form-data": s.UploadSerializer},
        responses={
            201: s.StorageResponseSerializer,
            200: OpenApiResponse(
                s.StorageResponseSerializer, description="The file already stored under `id`."
            ),
            **error_responses(
                ErrorCode.ID_CONFLICT,
                ErrorCode.ID_DELETED,
                ErrorCode.INVALID_IMAGE,
                ErrorCode.IMAGE_TOO_LARGE,
                ErrorCode.FILE_TOO_LARGE,
                ErrorCode.QUOTA_EXCEEDED,
                ErrorCode.SERVICE_UNAVAILABLE,
                ErrorCode.FEATURE_DISABLED,
            ),
        },
        description="413 `file_too_large` / `payload_too_large` past the per-file limit, "
        "413 `quota_exceeded` when the user's storage is full, 415 for anything but a "
        "JPEG, PNG, WebP or HEIC/HEIF image, 400 `invalid_image` / `image_too_large` "
        "(past STORAGE_MAX_PIXELS), 503 `service_unavailable` with Retry-After when the "
        "server is busy decoding other images. With `id` (chosen offline) the upload is "
        "idempotent like every offline create: 409 `id_conflict` when the id is someone "
        "else's, 410 `id_deleted` when it was yours and you deleted the file.",
    )
    def post(self, request):
        body, _ = read_multipart(request, max_files=1, field="files")
        data = s.UploadSerializer(data=body)
        data.is_valid(raise_exception=True)
        options = dict(data.validated_data)
        stored, created = services.upload_file_once(
            owner=request.user,
            upload=options.pop("file"),
            file_id=options.pop("id", None),
            **options,
        )
        return _one(request, stored, created=created)


class BatchUploadView(APIView):
    parser_classes = [MultiPartParser]
    permission_classes = _UPLOADS_ON

    @extend_schema(
        tags=[TAG],
        request={"multipart/form-data": s.BatchUploadSerializer},
        responses={
            201: s.BatchUploadResponseSerializer,
            **error_responses(
                ErrorCode.FILE_TOO_LARGE,
                ErrorCode.QUOTA_EXCEEDED,
                ErrorCode.BATCH_TOO_LARGE,
                ErrorCode.SERVICE_UNAVAILABLE,
                ErrorCode.FEATURE_DISABLED,
            ),
        },
        description="Each file is checked and stored on its own: `items` are the stored "
        "ones, `errors` name the index and the error of each refused one (a file over the "
        "per-file limit is dropped while it streams in and reported as `file_too_large`). "
        "The whole batch is refused, nothing stored, with 413 `batch_too_large` when its "
        "images have more than STORAGE_MAX_BATCH_PIXELS pixels in all (read from their "
        "headers), and with 503 `service_unavailable` (Retry-After) when the server is busy "
        "decoding other images.",
    )
    def post(self, request):
        max_files = settings.STORAGE_BATCH_MAX_FILES
        body, counter = read_multipart(
            request, max_files=max_files, field="files", skip_oversized=True
        )
        skipped = counter.skipped("files")
        data = s.BatchUploadSerializer(data=body, context={"skipped_files": len(skipped)})
        data.is_valid(raise_exception=True)
        options = dict(data.validated_data)
        uploads = options.pop("files")
        stored, failures = services.upload_files(owner=request.user, uploads=uploads, **options)
        # Positions in the request, counting the files the upload handler dropped.
        positions = [i for i in range(len(uploads) + len(skipped)) if i not in skipped]
        too_large = FileTooLarge(settings.STORAGE_MAX_UPLOAD_BYTES)
        errors = sorted(
            [_error_item(positions[failure.index], failure.error) for failure in failures]
            + [_error_item(index, too_large) for index in skipped],
            key=lambda item: item["index"],
        )
        items = _render(s.StorageResponseSerializer, stored, request)
        return responses.created(request, {"items": items, "errors": errors}, "storage-files")


class BatchDeleteView(APIView):
    schema = DeleteWithBodySchema()

    @extend_schema(
        tags=[TAG],
        request=s.BatchDeleteSerializer,
        responses={200: s.BatchDeleteResponseSerializer},
        description="Ids that are not the caller's files are skipped.",
    )
    def delete(self, request):
        data = s.BatchDeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deleted = services.delete_files(owner=request.user, ids=data.validated_data["ids"])
        return Response({"deleted": deleted})


class FileListView(GenericAPIView):
    serializer_class = s.StorageResponseSerializer

    @extend_schema(
        tags=[TAG],
        parameters=[s.FileListQuerySerializer],
        responses={200: s.StorageResponseSerializer(many=True)},
        description="The caller's files, newest first, each with a signed URL.",
    )
    def get(self, request):
        query = s.FileListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        files = selectors.list_files(request.user, purpose=query.validated_data.get("purpose"))
        page = self.paginate_queryset(files)
        data = _render(
            s.StorageResponseSerializer,
            page,
            request,
            variant=query.validated_data.get("variant"),
        )
        return self.get_paginated_response(data)


class FileDetailView(APIView):
    @extend_schema(tags=[TAG], responses={200: s.StorageResponseSerializer})
    def get(self, request, file_id):
        return _one(request, selectors.get_file(request.user, file_id))

    @extend_schema(
        tags=[TAG],
        parameters=[_IF_MATCH],
        responses={
            204: OpenApiResponse(description="Deleted, with its blobs and variants."),
            **error_responses(ErrorCode.PRECONDITION_FAILED),
        },
    )
    def delete(self, request, file_id):
        services.delete_file(
            owner=request.user, file_id=file_id, precondition=partial(check_if_match, request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class FileUrlView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[s.VariantQuerySerializer],
        responses={200: s.SignedUrlSerializer},
        description=f"A signed URL living {settings.STORAGE_URL_TTL_SECONDS // 60} minutes "
        "(STORAGE_URL_TTL_SECONDS).",
    )
    def get(self, request, file_id):
        query = s.VariantQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        stored = selectors.get_file(request.user, file_id)
        signed = selectors.grant(
            stored, variant=query.validated_data.get("variant"), request=request
        )
        return Response(s.SignedUrlSerializer(signed).data)


class SignedFileView(APIView):
    """Serves a local-backend blob to whoever holds an unexpired signed link.

    The link is the credential (an <Image> tag sends no bearer token), so there is no
    authentication here; the media folder itself is never served.
    """

    authentication_classes = []
    permission_classes = [AllowAny]

    def perform_content_negotiation(self, request, force=False):
        # Image loaders send `Accept: image/*`; errors still answer in the JSON envelope.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=[TAG],
        auth=[],
        responses={
            # Every stored blob is one of the formats uploads are re-encoded to.
            **{
                (200, output.content_type): OpenApiResponse(
                    OpenApiTypes.BINARY, description="The image, with its own Content-Type."
                )
                for output in OUTPUT_FORMATS.values()
            },
            (200, ZIP_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description="A data export (`/users/me/export/{id}`)."
            ),
            **error_responses(
                ErrorCode.INVALID_SIGNATURE, ErrorCode.URL_EXPIRED, ErrorCode.NOT_FOUND
            ),
        },
        description="403 `invalid_signature` or `url_expired`; 404 once the file is deleted.",
    )
    def get(self, request, token):
        grant = signing.read_local_token(token)
        stored = selectors.granted_file(grant.file_id)
        _, content_type = stored.blob_for(grant.variant)
        try:
            # Whole, not streamed: images are at most STORAGE_MAX_UPLOAD_BYTES, and ASGI
            # would collect a synchronous file iterator in memory anyway.
            data = selectors.read_bytes(stored, variant=grant.variant)
        except FileNotFoundError as exc:
            raise NotFound("No such file.") from exc
        response = HttpResponse(data, content_type=content_type)
        response["Cache-Control"] = f"private, max-age={grant.seconds_left}"
        response["Content-Disposition"] = (
            content_disposition_header(True, stored.original_filename)
            if content_type == ZIP_CONTENT_TYPE
            else "inline"
        )
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response
