"""Which events exist: the server's (recorded by the services that own them through
`track()`), the client's (sent to POST /analytics/events), and which feature each counts
for in the adoption rollup."""

from enum import StrEnum


class ServerEvent(StrEnum):
    USER_SIGNED_UP = "user_signed_up"
    USER_LOGGED_IN = "user_logged_in"
    FOOD_LOGGED = "food_logged"
    PHOTO_RECOGNIZED = "photo_recognized"
    CHAT_MESSAGE_SENT = "chat_message_sent"
    RECOMMENDATION_VIEWED = "recommendation_viewed"
    WORKOUT_COMPLETED = "workout_completed"
    FORM_CHECKED = "form_checked"
    CONNECTION_REQUESTED = "connection_requested"
    CONNECTION_ACCEPTED = "connection_accepted"
    GROUP_CREATED = "group_created"
    GROUP_JOINED = "group_joined"
    CHALLENGE_CREATED = "challenge_created"
    CHALLENGE_JOINED = "challenge_joined"


class FoodSource(StrEnum):
    """How a food log came to be (`food_logged.source`)."""

    MANUAL = "manual"
    PHOTO = "photo"
    TEXT = "text"
    BATCH = "batch"
    SYNC = "sync"
    IMPORT = "import"


# What the app may send: screen views and taps, never a server event (a client cannot
# claim to have signed up or logged food).
CLIENT_EVENTS = frozenset(
    {
        "app_opened",
        "app_backgrounded",
        "screen_viewed",
        "button_tapped",
        "notification_opened",
        "onboarding_step_completed",
        "search_performed",
        "share_tapped",
    }
)

FEATURES: dict[str, frozenset[str]] = {
    "food_logging": frozenset({ServerEvent.FOOD_LOGGED}),
    "photo_recognition": frozenset({ServerEvent.PHOTO_RECOGNIZED}),
    "ai_chat": frozenset({ServerEvent.CHAT_MESSAGE_SENT}),
    "recommendations": frozenset({ServerEvent.RECOMMENDATION_VIEWED}),
    "workouts": frozenset({ServerEvent.WORKOUT_COMPLETED}),
    "form_check": frozenset({ServerEvent.FORM_CHECKED}),
    "social": frozenset(
        {
            ServerEvent.CONNECTION_REQUESTED,
            ServerEvent.CONNECTION_ACCEPTED,
            ServerEvent.GROUP_CREATED,
            ServerEvent.GROUP_JOINED,
            ServerEvent.CHALLENGE_CREATED,
            ServerEvent.CHALLENGE_JOINED,
        }
    ),
}
