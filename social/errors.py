"""Error codes of the social app (one place each; see fitness.api.errors)."""

from fitness.api.errors import ApiError


class Forbidden(ApiError):
    """The caller may see the object but lacks the role for this action."""

    status_code = 403
    code = "forbidden"
    message = "You do not have the role needed for this action."


class GroupFull(ApiError):
    status_code = 409
    code = "group_full"
    message = "The group has reached its member limit."


class NotConnected(ApiError):
    code = "not_connected"
    message = "You can only invite people you are connected with."


class UserBlocked(ApiError):
    status_code = 409
    code = "user_blocked"
    message = "You blocked this user; unblock them first."


class OwnerMustRemain(ApiError):
    status_code = 409
    code = "owner_must_remain"
    message = "A group always has an owner: hand ownership over first (role: owner)."


class ChallengeClosed(ApiError):
    status_code = 409
    code = "challenge_closed"
    message = "This challenge has ended."
