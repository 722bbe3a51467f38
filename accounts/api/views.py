from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import firebase, selectors, services, tokens
from accounts.api import serializers as s
from accounts.models import User
from fitness.api import responses
from fitness.api.schema import DeleteWithBodySchema, error_responses
from fitness.api.throttling import DEVICE_HEADER, ScopedDeviceThrottle, ScopedIPThrottle
from fitness.error_codes import ErrorCode

# The app's installation id: the tight per-device limits of the anonymous endpoints count
# on it (fitness.api.throttling).
_DEVICE_ID = OpenApiParameter(
    DEVICE_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A random id the app makes once per installation; limits per device use it.",
)


def _auth_response(user: User, pair: dict, request) -> dict:
    profile = s.UserProfileSerializer(user, context=_ctx(user, request)).data
    return {**pair, "user": profile}


def _ctx(user: User, request) -> dict:
    return {"request": request, "measurement_system": user.measurement_system}


def _settings_of(user: User) -> dict:
    return {
        "theme_mode": user.theme_mode,
        "notifications_enabled": user.notifications_enabled,
        "measurement_system": user.measurement_system,
        "language": user.language,
        "timezone": user.timezone,
        "privacy_settings": user.privacy_settings,
    }


def _user_response(user: User, request) -> dict:
    return {
        "profile": s.UserProfileSerializer(user, context=_ctx(user, request)).data,
        "settings": _settings_of(user),
        "stats": selectors.get_user_stats(user),
        "preferences": user.preferences,
    }


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedIPThrottle, ScopedDeviceThrottle]
    throttle_scope = "register"

    @extend_schema(
        tags=["auth"],
        parameters=[_DEVICE_ID],
        request=s.RegisterSerializer,
        responses={201: s.AuthResponseSerializer},
        auth=[],
    )
    def post(self, request):
        data = s.RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.register_user(**data.validated_data)
        pair = tokens.issue_pair(user)
        return responses.created(request, _auth_response(user, pair, request), "users-profile")


class LoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedIPThrottle, ScopedDeviceThrottle]
    throttle_scope = "login"

    @extend_schema(
        tags=["auth"],
        parameters=[_DEVICE_ID],
        request=s.LoginSerializer,
        responses={
            200: s.AuthResponseSerializer,
            **error_responses(ErrorCode.INVALID_CREDENTIALS, ErrorCode.TOO_MANY_ATTEMPTS),
        },
        auth=[],
    )
    def post(self, request):
        data = s.LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.login(request=request, **data.validated_data)
        pair = tokens.issue_pair(user)
        return Response(_auth_response(user, pair, request))


class FirebaseExchangeView(APIView):
    """The app's one call to leave Firebase Auth: its ID token for our own tokens."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedIPThrottle, ScopedDeviceThrottle]
    throttle_scope = "login"

    @extend_schema(
        tags=["auth"],
        parameters=[_DEVICE_ID],
        request=s.FirebaseExchangeSerializer,
        responses={
            200: s.AuthResponseSerializer,
            **error_responses(
                ErrorCode.TOKEN_NOT_VALID,
                ErrorCode.AUTHENTICATION_FAILED,
                ErrorCode.LEGACY_TOKEN_EXPIRED,
                ErrorCode.SERVICE_UNAVAILABLE,
            ),
        },
        auth=[],
        description="Exchanges a Firebase ID token of the project for an `AuthResponse`; "
        "a Firebase user not imported yet is created from the token's claims.",
    )
    def post(self, request):
        data = s.FirebaseExchangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claims = firebase.verify_id_token(data.validated_data["id_token"])
        user = services.login_with_firebase_token(claims=claims)
        pair = tokens.issue_pair(user)
        return Response(_auth_response(user, pair, request))


class RefreshView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        tags=["auth"],
        request=s.RefreshTokenSerializer,
        responses={200: s.AuthResponseSerializer, **error_responses(ErrorCode.TOKEN_NOT_VALID)},
        auth=[],
    )
    def post(self, request):
        data = s.RefreshTokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, pair = services.refresh_session(
            raw_refresh_token=data.validated_data["refresh_token"]
        )
        return Response(_auth_response(user, pair, request))


class LogoutView(APIView):
    @extend_schema(
        tags=["auth"],
        request=s.RefreshTokenSerializer,
        responses={204: OpenApiResponse(description="Both tokens are revoked.")},
    )
    def post(self, request):
        data = s.RefreshTokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.logout(
            user=request.user,
            raw_refresh_token=data.validated_data["refresh_token"],
            access_token=request.auth,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedIPThrottle, ScopedDeviceThrottle]
    throttle_scope = "password_reset"

    @extend_schema(
        tags=["auth"],
        parameters=[_DEVICE_ID],
        request=s.PasswordResetRequestSerializer,
        responses={
            202: OpenApiResponse(
                s.PasswordResetAcceptedSerializer,
                description="Same answer whether or not the account exists.",
            ),
        },
        auth=[],
    )
    def post(self, request):
        data = s.PasswordResetRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.request_password_reset(email=data.validated_data["email"])
        return Response(
            {"detail": "If an account exists for this e-mail, a reset code is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedIPThrottle, ScopedDeviceThrottle]
    throttle_scope = "password_reset"

    @extend_schema(
        tags=["auth"],
        parameters=[_DEVICE_ID],
        request=s.PasswordResetConfirmSerializer,
        responses={
            204: OpenApiResponse(description="Password changed; sessions revoked."),
            **error_responses(ErrorCode.INVALID_RESET_CODE),
        },
        auth=[],
        description="Sets a new password with the six-digit code of the reset e-mail. "
        "The code lives `PASSWORD_RESET_TIMEOUT` seconds (15 minutes) and dies after "
        "`PASSWORD_RESET_MAX_ATTEMPTS` (5) wrong tries; a wrong code changes nothing else.",
    )
    def post(self, request):
        data = s.PasswordResetConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.confirm_password_reset(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(
        tags=["auth"],
        responses=s.UserResponseSerializer,
        description="The plan's `UserResponse`, as `GET /users/profile` answers it.",
    )
    def get(self, request):
        return Response(_user_response(request.user, request))


class ProfileView(APIView):
    @extend_schema(tags=["users"], responses=s.UserResponseSerializer)
    def get(self, request):
        return Response(_user_response(request.user, request))

    @extend_schema(
        tags=["users"], request=s.ProfileUpdateSerializer, responses=s.UserResponseSerializer
    )
    def put(self, request):
        data = s.ProfileUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.update_profile(user=request.user, changes=dict(data.validated_data))
        return Response(_user_response(user, request))


class SettingsView(APIView):
    @extend_schema(
        tags=["users"],
        request=s.UserSettingsSerializer,
        responses=s.UserSettingsSerializer,
        description="`privacy_settings` are booleans merged into the stored ones: "
        "`discoverable` (default true) lets others find you by exact e-mail; `analytics` "
        "(default true) false stores no product-analytics event of yours from then on.",
    )
    def patch(self, request):
        data = s.UserSettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.update_settings(user=request.user, changes=dict(data.validated_data))
        return Response(_settings_of(user))


class StatsView(APIView):
    @extend_schema(tags=["users"], responses=s.UserStatsSerializer)
    def get(self, request):
        return Response(selectors.get_user_stats(request.user))


class PreferencesView(APIView):
    @extend_schema(
        tags=["users"],
        request=s.PreferencesSerializer,
        responses=s.PreferencesSerializer,
        description="Merges the posted keys into the stored preferences (RFC 7396: "
        "objects merge recursively, `null` removes a key) and returns the result.",
    )
    def post(self, request):
        data = s.PreferencesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merged = services.merge_preferences(user=request.user, patch=data.validated_data)
        return Response(merged)


class AccountView(APIView):
    schema = DeleteWithBodySchema()

    @extend_schema(
        tags=["users"],
        request=s.AccountDeleteSerializer,
        responses={
            204: OpenApiResponse(description="The account and everything it owned are gone."),
            **error_responses(ErrorCode.REAUTHENTICATION_REQUIRED, ErrorCode.TOO_MANY_ATTEMPTS),
        },
        description="Deletes the account and everything it owns: profile, food logs, "
        "workouts, files (the blobs after commit), conversations, recognition jobs, "
        "sessions and tokens, connections, blocks, shares, memberships. A group it owns "
        "passes to its longest-standing active admin, else its longest-standing active "
        "member; a group with no one else active is deleted. An e-mail confirms it. "
        "Needs the password (`reauthentication_required` with `details.reason: password` "
        "when wrong; wrong ones count towards the login lockout) or, for an account "
        "without one, a sign-in within the last 5 minutes (`details.reason: "
        "recent_sign_in`).",
    )
    def delete(self, request):
        data = s.AccountDeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.delete_account(
            user=request.user, password=data.validated_data.get("password"), token=request.auth
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _export_started(export) -> dict:
    return {"id": export.pk, "status": export.status}


class DataExportsView(APIView):
    @extend_schema(
        tags=["users"],
        request=None,
        responses={202: s.DataExportStartedSerializer, **error_responses(ErrorCode.RATE_LIMITED)},
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[202],
                description="Where to follow the export: GET /api/v1/users/me/export/{id}.",
            )
        ],
        description="Starts a data export (GDPR's portability): a background job writes a zip "
        "of every table's rows of the caller (JSON per table) and their photos to their "
        "private storage. 202 with `Location` of the export to poll; while one is pending "
        "or running, that one is answered instead of starting another. New exports are "
        "limited per user (THROTTLE_DATA_EXPORT, 5/day).",
    )
    def post(self, request):
        export, _ = services.request_data_export(user=request.user)
        location = request.build_absolute_uri(
            reverse("users-me-export-detail", kwargs={"export_id": export.pk})
        )
        return Response(
            _export_started(export),
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


class DataExportDetailView(APIView):
    @extend_schema(tags=["users"], responses=s.DataExportSerializer)
    def get(self, request, export_id):
        export = selectors.get_data_export(request.user, export_id)
        link = selectors.data_export_link(export, request=request)
        return Response(
            {
                **_export_started(export),
                "url": link.url if link else None,
                "expires_at": link.expires_at if link else None,
                "error": export.error or None,
            }
        )
