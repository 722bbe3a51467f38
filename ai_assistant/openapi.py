"""OpenAPI for the pydantic models the AI endpoints answer with.

drf-spectacular's pydantic support hands pydantic's JSON Schema over as it is, and pydantic
writes an optional field as `anyOf: [..., {"type": "null"}]`, which OpenAPI 3.0 (what this
API's schema is) does not allow. This writes it the 3.0 way, `nullable: true`, and is
otherwise the library's extension. The JSON Schema sent to the model is unaffected.
"""

from drf_spectacular.contrib.pydantic import PydanticExtension
from drf_spectacular.plumbing import ResolvedComponent
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, model_json_schema
from pydantic_core import core_schema


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
