from rest_framework.permissions import BasePermission

from rollout import features
from rollout.features import Feature


def feature_enabled(feature: Feature) -> type[BasePermission]:
    """A permission that answers 503 `feature_disabled` while `feature`'s switch is off.
    Listed after IsAuthenticated, so a signed-out caller still learns to sign in first."""

    class FeatureEnabled(BasePermission):
        def has_permission(self, request, view) -> bool:
            features.require(feature)
            return True

    FeatureEnabled.__name__ = f"FeatureEnabled[{feature}]"
    return FeatureEnabled
