"""The kill switches: one waffle Switch per AI feature and for photo upload.

A switch that does not exist counts as on (WAFFLE_SWITCH_DEFAULT): switches are for turning
a feature off on purpose, and a fresh database (or one a test flushed) must not turn every
AI feature off. Migration 0002 creates them, on, so they are listed in the admin.
"""

from enum import StrEnum

import waffle

from fitness.api.errors import ApiError
from fitness.error_codes import ErrorCode


class Feature(StrEnum):
    label: str

    def __new__(cls, name: str, label: str) -> "Feature":
        member = str.__new__(cls, name)
        member._value_ = name
        member.label = label
        return member

    AI_RECOGNITION = "ai_recognition", "Food recognition"
    AI_CHAT = "ai_chat", "The AI coach's chat"
    AI_RECOMMENDATIONS = "ai_recommendations", "AI recommendations"
    FORM_CHECK = "form_check", "The form check"
    UPLOADS = "uploads", "Photo upload"


class FeatureDisabled(ApiError):
    code = ErrorCode.FEATURE_DISABLED

    def __init__(self, feature: Feature) -> None:
        super().__init__(
            f"{feature.label} is switched off for now. Try again later.",
            details={"feature": str(feature)},
        )


def is_enabled(feature: Feature) -> bool:
    # waffle reads the switch through the shared cache (Redis), which a change in the admin
    # invalidates at commit, so every process sees it on its next call.
    return waffle.switch_is_active(str(feature))


def require(feature: Feature) -> None:
    if not is_enabled(feature):
        raise FeatureDisabled(feature)
