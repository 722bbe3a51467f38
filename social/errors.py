"""Errors of the social app; their codes and statuses are in fitness.error_codes."""

from fitness.api.errors import ApiError
from fitness.error_codes import ErrorCode


class Forbidden(ApiError):
    """The caller may see the object but lacks the role for this action."""

    code = ErrorCode.FORBIDDEN
    message = "You do not have the role needed for this action."


class GroupFull(ApiError):
    code = ErrorCode.GROUP_FULL
    message = "The group has reached its member limit."


class NotConnected(ApiError):
    code = ErrorCode.NOT_CONNECTED
    message = "You can only invite people you are connected with."


class UserBlocked(ApiError):
    code = ErrorCode.USER_BLOCKED
    message = "You blocked this user; unblock them first."


class OwnerMustRemain(ApiError):
    code = ErrorCode.OWNER_MUST_REMAIN
    message = "A group always has an owner: hand ownership over first (role: owner)."


class ChallengeClosed(ApiError):
    code = ErrorCode.CHALLENGE_CLOSED
    message = "This challenge has ended."
