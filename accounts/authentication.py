from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts import firebase, services, tokens


class JWTAuthentication(authentication.JWTAuthentication):
    """SimpleJWT bearer auth that also refuses access tokens revoked by logout, and, while
    the Firebase bridge is on (FIREBASE_PROJECT_ID), accepts Firebase ID tokens."""

    def get_validated_token(self, raw_token: bytes):
        raw = raw_token.decode("latin-1")
        if firebase.looks_like_firebase_token(raw):
            return firebase.verify_id_token(raw)
        token = super().get_validated_token(raw_token)
        if tokens.is_access_token_revoked(token):
            raise InvalidToken({"detail": "Token has been revoked."})
        return token

    def get_user(self, validated_token):
        if isinstance(validated_token, firebase.FirebaseIdToken):
            return services.user_for_firebase_token(claims=validated_token)
        return super().get_user(validated_token)


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
