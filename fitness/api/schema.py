"""OpenAPI pieces: the error envelope, documented once, and each operation's error codes."""

from collections import defaultdict
from collections.abc import Iterable

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from fitness.error_codes import ErrorCode
from rollout.versions import GATE_EXEMPT_PATHS


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


class ErrorResponse(OpenApiResponse):
    """The envelope under one status, remembering which registry codes it stands for."""

    def __init__(self, codes: Iterable[ErrorCode]) -> None:
        self.codes = frozenset(codes)
        super().__init__(ErrorEnvelopeSerializer, description=_describe(self.codes))


def _describe(codes: Iterable[ErrorCode]) -> str:
    return "\n".join(f"- `{code}`: {code.meaning}" for code in sorted(codes))


def error_responses(*codes: ErrorCode) -> dict[int, ErrorResponse]:
    """For `@extend_schema(responses=...)`: the codes an operation answers beyond the
    generic ones, grouped under their statuses from the registry."""
    by_status: dict[int, set[ErrorCode]] = defaultdict(set)
    for code in codes:
        by_status[code.status].add(code)
    return {status: ErrorResponse(group) for status, group in sorted(by_status.items())}


class EnvelopeAutoSchema(AutoSchema):
    """Documents, for each operation, every error code it can answer: those its view
    declares with `error_responses` plus the ones that follow from what the operation is
    (a body, a path id, authentication, throttles), each under its registry status."""

    def _generic_error_codes(self) -> set[ErrorCode]:
        codes = {ErrorCode.INTERNAL_ERROR}
        reads_body = self.method in ("POST", "PUT", "PATCH") or (
            self.method == "DELETE" and isinstance(self, DeleteWithBodySchema)
        )
        if reads_body:
            codes |= {
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.MALFORMED_REQUEST,
                ErrorCode.PAYLOAD_TOO_LARGE,
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            }
        elif self._get_filter_parameters() or self._get_paginator() or self._reads_query():
            codes.add(ErrorCode.VALIDATION_ERROR)
        if self.get_auth():
            codes |= {
                ErrorCode.NOT_AUTHENTICATED,
                ErrorCode.AUTHENTICATION_FAILED,
                ErrorCode.TOKEN_NOT_VALID,
            }
        if "{" in self.path:
            codes.add(ErrorCode.NOT_FOUND)
        if self.view.get_throttles():
            codes.add(ErrorCode.RATE_LIMITED)
        if self.path.startswith("/api/") and self.path not in GATE_EXEMPT_PATHS:
            codes.add(ErrorCode.APP_UPDATE_REQUIRED)
        if self.get_auth() or self.view.get_throttles():
            # Revocation records and rate-limit counters live in Redis; without it these
            # fail closed.
            codes.add(ErrorCode.SERVICE_UNAVAILABLE)
        return codes

    def _reads_query(self) -> bool:
        """Query parameters declared with `extend_schema(parameters=...)`: a serializer of
        them, or an OpenApiParameter in the query, both validated by the view."""
        return any(
            not isinstance(parameter, OpenApiParameter)
            or parameter.location == OpenApiParameter.QUERY
            for parameter in self.get_override_parameters()
        )

    def _declared_error_codes(self) -> set[ErrorCode]:
        declared = self.get_response_serializers()
        if not isinstance(declared, dict):
            return set()
        return {
            code
            for response in declared.values()
            if isinstance(response, ErrorResponse)
            for code in response.codes
        }

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction)
        if str(status_code) == "201":
            # Every 201 goes through fitness.api.responses.created.
            headers.setdefault(
                "Location",
                {
                    "schema": {"type": "string", "format": "uri"},
                    "required": True,
                    "description": "The URL of what was created.",
                },
            )
        return headers

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        by_status: dict[int, set[ErrorCode]] = defaultdict(set)
        for code in self._generic_error_codes() | self._declared_error_codes():
            by_status[code.status].add(code)
        for status, codes in sorted(by_status.items()):
            response = self._get_response_for_code(ErrorResponse(codes), str(status))
            # Tools (the generated TypeScript client, the access matrix) read the codes
            # without parsing the prose.
            response["x-error-codes"] = [str(code) for code in sorted(codes)]
            responses[str(status)] = response
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
