"""OpenAPI for the AI endpoints: the failures every model call can answer, and the schema
of the pydantic models they answer with.

drf-spectacular's pydantic support hands pydantic's JSON Schema over as it is, and pydantic
writes an optional field as `anyOf: [..., {"type": "null"}]`, which OpenAPI 3.0 (what this
API's schema is) does not allow. This writes it the 3.0 way, `nullable: true`, and is
otherwise the library's extension. The JSON Schema sent to the model is unaffected.
"""

from drf_spectacular.contrib.pydantic import PydanticExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, model_json_schema
from pydantic_core import core_schema

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
# The refusals of every endpoint that takes a photo.
PHOTO_ERRORS = {
    413: _error(
        "file_too_large / payload_too_large past the per-file limit "
        "(STORAGE_MAX_UPLOAD_MB); quota_exceeded when the user's storage is full",
    ),
    415: _error(
        "unsupported_media_type: not a JPEG, PNG, WebP or HEIC/HEIF image",
    ),
}


class OpenApi30JsonSchema(GenerateJsonSchema):
    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if "$ref" in inner:
            # Siblings of $ref are ignored in 3.0, so the reference goes one level down.
            return {"allOf": [inner], "nullable": True}
        return {**inner, "nullable": True}


class OpenApi30PydanticExtension(PydanticExtension):
    priority = 1  # ahead of drf-spectacular's own

    def map_serializer(self, auto_schema, direction):
        schema = model_json_schema(
            self.target,
            ref_template="#/components/schemas/{model}",
            mode="serialization",
            schema_generator=OpenApi30JsonSchema,
        )
        for name, definition in schema.pop("$defs", {}).items():
            component = ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, object=name, schema=definition
            )
            auto_schema.registry.register_on_missing(component)
        return schema
