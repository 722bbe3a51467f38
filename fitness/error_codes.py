"""Every error code the API or a WebSocket can answer, declared once with its HTTP status.

Clients branch on `error.code`, so a code is part of the contract: one spelling, one status
and one meaning for the whole service. `ApiError` subclasses and WebSocket error frames take
their code from here, the OpenAPI schema lists each operation's codes from here, and
`manage.py error_codes` prints the table the README links to.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    """A code's value is what clients see; `status` is the HTTP status it answers with (on a
    WebSocket, the status a REST client would have seen), `meaning` one line for the docs."""

    status: int
    meaning: str

    def __new__(cls, code: str, status: int, meaning: str) -> "ErrorCode":
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.meaning = meaning
        return member

    # --- Requests ------------------------------------------------------------------------
    BAD_REQUEST = "bad_request", 400, "The request was rejected as malformed or unsafe."
    VALIDATION_ERROR = (
        "validation_error",
        400,
        "Some fields are invalid; messages per field are under `details.fields`.",
    )
    MALFORMED_REQUEST = "malformed_request", 400, "The body (or frame) is not valid JSON."
    UNKNOWN_MESSAGE = "unknown_message", 400, "A WebSocket frame of a type this socket ignores."
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "This method is not allowed on this path."
    NOT_ACCEPTABLE = "not_acceptable", 406, "The requested response format is not available."
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, "The request body is too large."
    UNSUPPORTED_MEDIA_TYPE = (
        "unsupported_media_type",
        415,
        "The body's content type, or an uploaded file's type, is not accepted.",
    )
    RATE_LIMITED = "rate_limited", 429, "Too many requests; wait for `Retry-After` seconds."

    # --- Authentication and access -------------------------------------------------------
    NOT_AUTHENTICATED = "not_authenticated", 401, "No credentials were sent."
    AUTHENTICATION_FAILED = "authentication_failed", 401, "The credentials were refused."
    TOKEN_NOT_VALID = "token_not_valid", 401, "The token is invalid, expired or revoked."
    LEGACY_TOKEN_EXPIRED = (
        "legacy_token_expired",
        401,
        "Firebase ID tokens are no longer accepted; sign in with e-mail and password.",
    )
    INVALID_CREDENTIALS = "invalid_credentials", 401, "E-mail or password is incorrect."
    TOO_MANY_ATTEMPTS = (
        "too_many_attempts",
        429,
        "Too many failed logins for this account; it is locked for `Retry-After` seconds.",
    )
    INVALID_RESET_CODE = (
        "invalid_reset_code",
        400,
        "The password-reset code is wrong, expired or used up; ask for a new one.",
    )
    PERMISSION_DENIED = "permission_denied", 403, "The caller may not do this."
    REAUTHENTICATION_REQUIRED = (
        "reauthentication_required",
        403,
        "Prove it is you: the password is wrong, or (accounts without one) sign in again.",
    )

    # --- Objects ---------------------------------------------------------------------------
    NOT_FOUND = "not_found", 404, "No such object for this caller (or no such endpoint)."
    CONFLICT = "conflict", 409, "The request conflicts with the current state."
    ID_CONFLICT = (
        "id_conflict",
        409,
        "A client-chosen id is already used by another object; create it with a new id.",
    )
    PRECONDITION_FAILED = (
        "precondition_failed",
        412,
        "`If-Match` no longer matches: the object changed since it was read.",
    )
    ID_DELETED = (
        "id_deleted",
        410,
        "The caller's object with this client-chosen id was deleted; it is not recreated.",
    )
    SYNC_CONFLICT = (
        "sync_conflict",
        409,
        "Records of the push changed on the server since the last pull (ids under "
        "`details.conflicts`); pull, then push again.",
    )

    # --- Social ----------------------------------------------------------------------------
    FORBIDDEN = (
        "forbidden",
        403,
        "The caller can see the group or challenge but lacks the role for this action.",
    )
    GROUP_FULL = "group_full", 409, "The group has no seat left (max_members)."
    NOT_CONNECTED = "not_connected", 400, "Only accepted connections can be invited."
    USER_BLOCKED = "user_blocked", 409, "The caller blocked this user; unblock them first."
    OWNER_MUST_REMAIN = (
        "owner_must_remain",
        409,
        "A group always has an owner: hand ownership over first.",
    )
    CHALLENGE_CLOSED = "challenge_closed", 409, "The challenge has ended."

    # --- Files -----------------------------------------------------------------------------
    INVALID_IMAGE = "invalid_image", 400, "The file is not a readable image."
    IMAGE_TOO_LARGE = "image_too_large", 400, "The image has more pixels than allowed."
    FILE_TOO_LARGE = "file_too_large", 413, "A file is larger than the per-file limit."
    QUOTA_EXCEEDED = "quota_exceeded", 413, "The user's storage quota is used up."
    BATCH_TOO_LARGE = (
        "batch_too_large",
        413,
        "A batch's images have more pixels in all than one request may decode.",
    )
    INVALID_SIGNATURE = "invalid_signature", 403, "A signed file link is not valid."
    URL_EXPIRED = "url_expired", 403, "A signed file link has expired; ask for a new one."

    # --- AI ----------------------------------------------------------------------------------
    AI_UNAVAILABLE = "ai_unavailable", 503, "No AI provider is configured on this server."
    INVALID_KEY = "invalid_key", 502, "The AI provider rejected the server's API key."
    API_DISABLED = "api_disabled", 502, "The AI provider's API is not enabled for this server."
    NETWORK_ERROR = "network_error", 503, "The AI provider could not be reached."
    TIMEOUT = "timeout", 504, "The AI provider did not answer in time."
    GENERATION_ERROR = "generation_error", 502, "The AI provider's answer was unusable."
    CONTENT_BLOCKED = "content_blocked", 422, "The AI provider's safety filters refused it."
    JOB_TIMEOUT = "job_timeout", 504, "A recognition job did not finish in time."
    IMAGE_MISSING = "image_missing", 410, "The photo was deleted before it was analysed."
    JOB_ATTEMPTS_EXHAUSTED = (
        "job_attempts_exhausted",
        500,
        "A recognition job was started too many times without finishing.",
    )

    # --- Rollout ---------------------------------------------------------------------------
    FEATURE_DISABLED = (
        "feature_disabled",
        503,
        "The feature is switched off on the server for now (`details.feature`).",
    )
    APP_UPDATE_REQUIRED = (
        "app_update_required",
        426,
        "This app version is below the platform's minimum (`details.min_version`); update.",
    )

    # --- Server ------------------------------------------------------------------------------
    INTERNAL_ERROR = "internal_error", 500, "Something went wrong on our side."
    SERVICE_UNAVAILABLE = (
        "service_unavailable",
        503,
        "A backing service (Redis, Firebase's token certificates) is unreachable; retry "
        "after `Retry-After` seconds.",
    )

    @classmethod
    def for_status(cls, status: int) -> "ErrorCode":
        """The generic code of a status, for failures raised without one of ours (Django's
        and DRF's own exceptions)."""
        return _GENERIC_BY_STATUS.get(
            status, cls.INTERNAL_ERROR if status >= 500 else cls.BAD_REQUEST
        )


_GENERIC_BY_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.AUTHENTICATION_FAILED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    409: ErrorCode.CONFLICT,
    412: ErrorCode.PRECONDITION_FAILED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


def markdown_table() -> str:
    """The README's table of codes, generated so it can never drift from this module."""
    rows = ["| code | HTTP status | meaning |", "|---|---|---|"]
    rows += [f"| `{code}` | {code.status} | {code.meaning} |" for code in ErrorCode]
    return "\n".join(rows) + "\n"
