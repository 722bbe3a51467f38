"""What can go wrong with an AI call, as the API's error envelope renders it.

Providers translate their own failures into these, so callers (views, Celery tasks,
WebSocket consumers) handle one family whatever the provider, and never answer a 500 for a
provider's failure. `retryable` marks the transient ones the client retries with backoff.
"""

from fitness.api.errors import ApiError, RateLimited
from fitness.error_codes import ErrorCode


class AIError(ApiError):
    retryable = False


class AIUnavailable(AIError):
    code = ErrorCode.AI_UNAVAILABLE
    message = "The AI service is not configured on this server."


class InvalidKey(AIError):
    code = ErrorCode.INVALID_KEY
    message = "The AI provider rejected this server's API key."


class ApiDisabled(AIError):
    code = ErrorCode.API_DISABLED
    message = "The AI provider's API is not enabled for this server."


class AIRateLimited(AIError, RateLimited):
    """Either this user's AI allowance or the provider's quota is used up for now."""


class NetworkError(AIError):
    code = ErrorCode.NETWORK_ERROR
    message = "The AI provider could not be reached. Try again shortly."
    retryable = True


class Timeout(AIError):
    code = ErrorCode.TIMEOUT
    message = "The AI provider did not answer in time."


class GenerationError(AIError):
    code = ErrorCode.GENERATION_ERROR
    message = "The AI provider returned an answer we could not use."


class ContentBlocked(AIError):
    code = ErrorCode.CONTENT_BLOCKED
    message = "The AI provider declined this content for safety reasons."
