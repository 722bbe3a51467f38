"""Firebase ID tokens, accepted while the app moves off Firebase Auth.

Checked with PyJWT against Google's x509 certificates, held per process for as long as their
`Cache-Control: max-age` says. google-auth's `verify_firebase_token` was not used: it fetches
the certificates anew on every call unless handed a caching transport of its own, and it
checks neither `auth_time` nor an empty `sub`.
"""

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from cryptography import x509
from django.conf import settings
from django.utils import timezone

from fitness.api.errors import ApiError, ServiceUnavailable
from fitness.error_codes import ErrorCode

logger = logging.getLogger(__name__)

ISSUER_PREFIX = "https://securetoken.google.com/"
# The namespace of the ids of users that come from Firebase: uuid5(namespace, uid), so the
# importer and the lazy sign-in give one Firebase user the same id, run after run.
FIREBASE_UID_NAMESPACE = uuid.UUID("3f0c6a55-2f5e-5d59-9d6c-6e2b1a0f7c41")
_REQUIRED_CLAIMS = ["exp", "iat", "aud", "iss", "sub", "auth_time"]
_MAX_AGE = re.compile(r"max-age=(\d+)")
_FETCH_TIMEOUT_SECONDS = 5


class FirebaseTokenInvalid(ApiError):
    code = ErrorCode.TOKEN_NOT_VALID
    message = "The Firebase ID token is invalid or expired."


class LegacyTokenExpired(ApiError):
    code = ErrorCode.LEGACY_TOKEN_EXPIRED
    message = "Firebase sign-in has ended; sign in with your e-mail and password."


class CertificatesUnavailable(ServiceUnavailable):
    message = "Firebase's token certificates could not be fetched. Try again shortly."


class FirebaseIdToken(dict):
    """A verified token's claims; what `request.auth` holds for a Firebase bearer."""


def firebase_user_id(uid: str) -> uuid.UUID:
    return uuid.uuid5(FIREBASE_UID_NAMESPACE, uid)


def bridge_enabled() -> bool:
    return bool(settings.FIREBASE_PROJECT_ID)


def looks_like_firebase_token(raw: str) -> bool:
    """Cheap and unverified: our own tokens carry no `kid` and another issuer."""
    if not bridge_enabled():
        return False
    try:
        header = jwt.get_unverified_header(raw)
        if header.get("kid"):
            return True
        claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return claims.get("iss") == ISSUER_PREFIX + settings.FIREBASE_PROJECT_ID


@dataclass(frozen=True)
class _Certificates:
    keys: dict[str, Any]
    expires_at: float


_certificates: dict[str, _Certificates] = {}
_lock = threading.Lock()


def _fetch(url: str) -> _Certificates:
    try:
        response = requests.get(url, timeout=_FETCH_TIMEOUT_SECONDS)
        response.raise_for_status()
        pems = response.json()
        keys = {
            kid: x509.load_pem_x509_certificate(pem.encode()).public_key()
            for kid, pem in pems.items()
        }
    except (requests.RequestException, ValueError, AttributeError, TypeError) as exc:
        logger.warning("Firebase certificates unavailable from %s: %s", url, exc)
        raise CertificatesUnavailable() from exc
    match = _MAX_AGE.search(response.headers.get("Cache-Control", ""))
    max_age = int(match.group(1)) if match else 0
    return _Certificates(keys=keys, expires_at=time.monotonic() + max_age)


def public_keys() -> dict[str, Any]:
    url = settings.FIREBASE_CERTS_URL
    cached = _certificates.get(url)
    if cached is None or cached.expires_at <= time.monotonic():
        # One fetch per process at a time; the others wait for its answer.
        with _lock:
            cached = _certificates.get(url)
            if cached is None or cached.expires_at <= time.monotonic():
                cached = _certificates[url] = _fetch(url)
    return cached.keys


def clear_certificate_cache() -> None:
    _certificates.clear()


def verify_id_token(raw: str) -> FirebaseIdToken:
    """The claims of a valid ID token of our Firebase project, or a 401."""
    project = settings.FIREBASE_PROJECT_ID
    if not project:
        raise FirebaseTokenInvalid("Firebase sign-in is not enabled on this server.")
    until = settings.FIREBASE_TOKENS_UNTIL
    if until is not None and timezone.now().date() > until:
        raise LegacyTokenExpired()
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise FirebaseTokenInvalid() from None
    # Only RS256 is ever accepted: `none`, or HS256 keyed with the public certificate,
    # must not get as far as a key lookup.
    if header.get("alg") != "RS256" or not header.get("kid"):
        raise FirebaseTokenInvalid()
    key = public_keys().get(header["kid"])
    if key is None:
        raise FirebaseTokenInvalid()
    try:
        claims = jwt.decode(
            raw,
            key,
            algorithms=["RS256"],
            audience=project,
            issuer=ISSUER_PREFIX + project,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError:
        raise FirebaseTokenInvalid() from None
    now = time.time()
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 128:
        raise FirebaseTokenInvalid()
    for moment in ("iat", "auth_time"):
        if not isinstance(claims[moment], int | float) or claims[moment] > now:
            raise FirebaseTokenInvalid()
    return FirebaseIdToken(claims)
