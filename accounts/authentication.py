from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts import tokens


class JWTAuthentication(authentication.JWTAuthentication):
    """SimpleJWT bearer auth that also refuses access tokens revoked by logout."""

    def get_validated_token(self, raw_token: bytes):
        token = super().get_validated_token(raw_token)
        if tokens.is_access_token_revoked(token):
            raise InvalidToken({"detail": "Token has been revoked."})
        return token


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
