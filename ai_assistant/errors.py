"""What can go wrong with an AI call, as the API's error envelope renders it.

Providers translate their own failures into these, so callers (views, Celery tasks,
WebSocket consumers) handle one family whatever the provider, and never answer a 500 for a
provider's failure. `retryable` marks the transient ones the client retries with backoff.
"""

from fitness.api.errors import ApiError, RateLimited


class AIError(ApiError):
    retryable = False


class AIUnavailable(AIError):
    status_code = 503
    code = "ai_unavailable"
    message = "The AI service is not configured on this server."


class InvalidKey(AIError):
    status_code = 502
    code = "invalid_key"
    message = "The AI provider rejected this server's API key."


class ApiDisabled(AIError):
    status_code = 502
    code = "api_disabled"
    message = "The AI provider's API is not enabled for this server."


class AIRateLimited(AIError, RateLimited):
    """Either this user's AI allowance or the provider's quota is used up for now."""


class NetworkError(AIError):
    status_code = 503
    code = "network_error"
    message = "The AI provider could not be reached. Try again shortly."
    retryable = True


class Timeout(AIError):
    status_code = 504
    code = "timeout"
    message = "The AI provider did not answer in time."


class GenerationError(AIError):
    status_code = 502
    code = "generation_error"
    message = "The AI provider returned an answer we could not use."


class ContentBlocked(AIError):
    status_code = 422
    code = "content_blocked"
    message = "The AI provider declined this content for safety reasons."
