"""OpenAPI for the AI endpoints: the error codes every model call can answer, and the schema
of the pydantic models they answer with.

drf-spectacular's pydantic support hands pydantic's JSON Schema over as it is, and pydantic
writes an optional field as `anyOf: [..., {"type": "null"}]`, which OpenAPI 3.0 (what this
API's schema is) does not allow. This writes it the 3.0 way, `nullable: true`, and is
otherwise the library's extension. The JSON Schema sent to the model is unaffected.
"""

from drf_spectacular.contrib.pydantic import PydanticExtension
from drf_spectacular.plumbing import ResolvedComponent
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, model_json_schema
from pydantic_core import core_schema

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
    # Each of these endpoints has a kill switch (rollout.features).
    ErrorCode.FEATURE_DISABLED,
)
# What a photo sent with the request can answer before any model is asked.
PHOTO_ERROR_CODES = (
    ErrorCode.INVALID_IMAGE,
    ErrorCode.IMAGE_TOO_LARGE,
    ErrorCode.FILE_TOO_LARGE,
    ErrorCode.QUOTA_EXCEEDED,
    ErrorCode.SERVICE_UNAVAILABLE,
)


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
