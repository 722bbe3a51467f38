"""OpenAPI pieces: the error envelope, documented once and referenced by every operation."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case code a client can branch on.")
    message = serializers.CharField(help_text="Human-readable sentence.")
    details = serializers.DictField(
        help_text="Extra facts; validation errors list field messages under `fields`."
    )


class ErrorEnvelopeSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "ErrorEnvelope"


_ERROR_DESCRIPTIONS = {
    "400": "validation_error (field messages in details.fields) or malformed_request",
    "401": "not_authenticated, authentication_failed or token_not_valid",
    "403": "permission_denied",
    "404": "not_found",
    "409": "conflict",
    "412": "precondition_failed",
    "413": "payload_too_large",
    "415": "unsupported_media_type",
    "429": "rate_limited (see Retry-After)",
    "500": "internal_error",
}


def error_responses(*codes: int) -> dict[int, object]:
    """For `@extend_schema(responses=...)`: the envelope under each given status."""
    return {
        code: OpenApiResponse(ErrorEnvelopeSerializer, description=_ERROR_DESCRIPTIONS[str(code)])
        for code in codes
    }


class EnvelopeAutoSchema(AutoSchema):
    """Adds the error envelope to each operation for the statuses it can produce."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["500"]
        if (
            self.method in ("POST", "PUT", "PATCH")
            or self._get_filter_parameters()
            or self._get_paginator()
        ):
            codes.append("400")
        if self.get_auth():
            codes.append("401")
        if "{" in self.path:
            codes.append("404")
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorEnvelopeSerializer, code)
                response["description"] = _ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses


class DeleteWithBodySchema(EnvelopeAutoSchema):
    """drf-spectacular documents bodies only for POST/PUT/PATCH; the plan's batch deletes
    take their ids in a DELETE body, so that body is documented as a POST one would be."""

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"
