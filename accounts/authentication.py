from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts import firebase, services, tokens
from accounts.models import User


class JWTAuthentication(authentication.JWTAuthentication):
    """SimpleJWT bearer auth that also refuses access tokens revoked by logout, and, while
    the Firebase bridge is on (FIREBASE_PROJECT_ID), accepts Firebase ID tokens.

    An API request reads no user row to authenticate: the token's signature and claims,
    checked against the cached per-user record (active, token version, revoked sessions;
    see accounts.tokens), decide, exactly as strictly as the row would. The view gets a
    user that knows its id and loads its row on first use of any other field.
    """

    def get_validated_token(self, raw_token: bytes):
        raw = raw_token.decode("latin-1")
        if firebase.looks_like_firebase_token(raw):
            return firebase.verify_id_token(raw)
        token = super().get_validated_token(raw_token)
        if tokens.is_access_token_revoked(token):
            raise InvalidToken({"detail": "Token has been revoked."})
        return token

    def authenticate(self, request):
        header = self.get_header(request)
        raw = None if header is None else self.get_raw_token(header)
        if raw is None:
            return None
        validated = self.get_validated_token(raw)
        if isinstance(validated, firebase.FirebaseIdToken):
            return self.get_user(validated), validated
        # get_validated_token accepted it against the auth record: the user exists and is
        # active (deletion and deactivation drop the record, accounts.signals).
        return User.from_token(validated[jwt_settings.USER_ID_CLAIM]), validated

    def get_user(self, validated_token):
        """The whole row: for the WebSocket handshake, whose consumers read the user in
        async code, where a lazily loaded field cannot be fetched."""
        if isinstance(validated_token, firebase.FirebaseIdToken):
            return services.user_for_firebase_token(claims=validated_token)
        return super().get_user(validated_token)


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
