"""Firebase ID tokens without Google: a test RSA key with a self-signed x509 certificate, the
certificates served the way Google serves them (JSON `{kid: PEM}` with Cache-Control
max-age) by a local HTTP server, and tokens signed with the key."""

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.http_threads import serve

PROJECT = "future-fitness-test"
ISSUER = f"https://securetoken.google.com/{PROJECT}"


class SigningKey:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.test")])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=7))
            .sign(self.private, hashes.SHA256())
        )

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def claims_for(uid: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": PROJECT,
        "auth_time": now - 60,
        "user_id": uid,
        "sub": uid,
        "iat": now - 30,
        "exp": now + 3600,
        "email": f"{uid.lower()}@example.com",
        "email_verified": True,
        "firebase": {"identities": {}, "sign_in_provider": "password"},
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def sign(key: SigningKey, claims: dict[str, Any], *, kid: str | None = None) -> str:
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": kid or key.kid})


def _segment(data: dict[str, Any]) -> bytes:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """`alg: none`, written by hand: PyJWT refuses to make one with a kid we check."""
    head = _segment({"alg": "none", "typ": "JWT", "kid": kid})
    return (head + b"." + _segment(claims) + b".").decode()


def hs256_with_public_key(key: SigningKey, claims: dict[str, Any]) -> str:
    """The classic confusion attack: HMAC keyed with the public certificate's key. Written by
    hand, because PyJWT (rightly) refuses to use a PEM key as an HMAC secret."""
    signing_input = _segment({"alg": "HS256", "typ": "JWT", "kid": key.kid}) + b"."
    signing_input += _segment(claims)
    mac = hmac.new(key.public_pem, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


class CertificateServer:
    """Serves `{kid: certificate PEM}` at /certs with `Cache-Control: public, max-age=N`."""

    def __init__(self, keys: list[SigningKey], max_age: int = 3600) -> None:
        self.keys = keys
        self.max_age = max_age
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.fetches += 1
                body = json.dumps({k.kid: k.certificate_pem for k in server.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Cache-Control", f"public, max-age={server.max_age}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/certs"

    def __enter__(self) -> "CertificateServer":
        serve(self.httpd)
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
