"""Firebase ID tokens during the transition: REST, the WebSockets and the exchange endpoint
accept the project's tokens and refuse every forged, foreign or expired one."""

import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import firebase
from accounts.models import MigrationSource, User
from fitness.asgi import application
from tests.accounts.firebase_standin import (
    PROJECT,
    CertificateServer,
    SigningKey,
    claims_for,
    hs256_with_public_key,
    sign,
    unsigned,
)
from tests.ai_assistant.coach import conversation_for
from tests.factories import DEFAULT_PASSWORD


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey("test-kid-1")


@pytest.fixture(scope="module")
def stranger_key() -> SigningKey:
    """A key whose certificate the server does not publish."""
    return SigningKey("unpublished-kid")


@pytest.fixture
def certs(key, settings):
    with CertificateServer([key]) as server:
        settings.FIREBASE_PROJECT_ID = PROJECT
        settings.FIREBASE_CERTS_URL = server.url
        settings.FIREBASE_TOKENS_UNTIL = None
        firebase.clear_certificate_cache()
        yield server
    firebase.clear_certificate_cache()


def make_user(email: str | None = None, **fields) -> User:
    """A user as registration or the importer makes it: its password set before the first
    save, so no session has ended yet (the factory's second save would end them)."""
    email = email or f"person-{uuid.uuid4().hex[:8]}@example.com"
    return User.objects.create_user(email, DEFAULT_PASSWORD, name="Person", **fields)


@pytest.fixture
def imported(db) -> User:
    return make_user(firebase_uid="fbUid0001", migration_source=MigrationSource.FIREBASE_IMPORT)


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _error(response) -> dict:
    return response.json()["error"]


def test_rest_accepts_a_firebase_token_of_an_imported_user(certs, key, imported):
    response = _bearer(sign(key, claims_for("fbUid0001"))).get("/api/v1/auth/me")

    assert response.status_code == 200
    assert response.json()["profile"]["id"] == str(imported.pk)
    assert response.json()["profile"]["email"] == imported.email


def test_our_own_tokens_still_work_while_the_bridge_is_on(certs, auth_client, user):
    response = auth_client.get("/api/v1/auth/me")

    assert response.status_code == 200
    assert response.json()["profile"]["id"] == str(user.pk)
    assert certs.fetches == 0


def test_certificates_are_fetched_once_while_max_age_holds(certs, key, imported):
    client = _bearer(sign(key, claims_for("fbUid0001")))
    for _ in range(3):
        assert client.get("/api/v1/auth/me").status_code == 200

    assert certs.fetches == 1


def test_certificates_are_fetched_again_once_max_age_has_passed(certs, key, imported):
    certs.max_age = 0
    client = _bearer(sign(key, claims_for("fbUid0001")))
    for _ in range(2):
        assert client.get("/api/v1/auth/me").status_code == 200

    assert certs.fetches == 2


def test_an_unknown_uid_becomes_a_user_on_the_spot(certs, key, db):
    token = sign(key, claims_for("NewUid42", email="New.User@Example.com", name="Nuevo Núñez"))

    first = _bearer(token).get("/api/v1/auth/me")
    second = _bearer(token).get("/api/v1/auth/me")

    assert first.status_code == 200
    assert second.json()["profile"]["id"] == first.json()["profile"]["id"]
    user = User.objects.get(firebase_uid="NewUid42")
    profile = first.json()["profile"]
    assert str(user.pk) == profile["id"] == str(firebase.firebase_user_id("NewUid42"))
    assert user.migration_source == MigrationSource.FIREBASE_LAZY
    assert (user.email, user.name, user.email_verified) == (
        "new.user@example.com",
        "Nuevo Núñez",
        True,
    )
    assert first.json()["profile"]["email_verified"] is True
    assert not user.has_usable_password()
    assert User.objects.count() == 1


def test_a_verified_firebase_address_links_the_account_registered_with_it(certs, key, db):
    existing = make_user("taken@example.com")

    response = _bearer(sign(key, claims_for("LinkMe", email="taken@example.com"))).get(
        "/api/v1/auth/me"
    )

    assert response.status_code == 200
    assert response.json()["profile"]["id"] == str(existing.pk)
    existing.refresh_from_db()
    assert existing.firebase_uid == "LinkMe"


def test_an_unverified_firebase_address_does_not_take_over_an_account(certs, key, db):
    existing = make_user("taken@example.com")
    token = sign(key, claims_for("Intruder", email="taken@example.com", email_verified=False))

    response = _bearer(token).get("/api/v1/auth/me")

    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"
    existing.refresh_from_db()
    assert existing.firebase_uid is None
    assert not User.objects.filter(firebase_uid="Intruder").exists()


def _forged(case: str, key: SigningKey, stranger: SigningKey) -> str:
    now = int(timezone.now().timestamp())
    uid = "fbUid0001"
    if case == "expired":
        return sign(key, claims_for(uid, iat=now - 7200, auth_time=now - 7200, exp=now - 3600))
    if case == "wrong audience":
        return sign(key, claims_for(uid, aud="another-project"))
    if case == "wrong issuer":
        return sign(key, claims_for(uid, iss="https://securetoken.google.com/another-project"))
    if case == "unknown kid":
        return sign(stranger, claims_for(uid))
    if case == "signed by another key under our kid":
        return sign(stranger, claims_for(uid), kid=key.kid)
    if case == "alg none":
        return unsigned(claims_for(uid), key.kid)
    if case == "hs256 with the public key":
        return hs256_with_public_key(key, claims_for(uid))
    if case == "empty sub":
        return sign(key, claims_for(uid, sub=""))
    if case == "no sub":
        return sign(key, claims_for(uid, sub=None))
    if case == "future iat":
        return sign(key, claims_for(uid, iat=now + 600))
    if case == "future auth_time":
        return sign(key, claims_for(uid, auth_time=now + 600))
    if case == "no auth_time":
        return sign(key, claims_for(uid, auth_time=None))
    raise AssertionError(case)


FORGERIES = [
    "expired",
    "wrong audience",
    "wrong issuer",
    "unknown kid",
    "signed by another key under our kid",
    "alg none",
    "hs256 with the public key",
    "empty sub",
    "no sub",
    "future iat",
    "future auth_time",
    "no auth_time",
]


@pytest.mark.parametrize("case", FORGERIES)
def test_rest_refuses_a_bad_firebase_token(case, certs, key, stranger_key, imported):
    response = _bearer(_forged(case, key, stranger_key)).get("/api/v1/auth/me")

    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"


@pytest.mark.parametrize("case", FORGERIES)
def test_exchange_refuses_a_bad_firebase_token(case, certs, key, stranger_key, imported):
    count = User.objects.count()

    response = APIClient().post(
        "/api/v1/auth/firebase", {"id_token": _forged(case, key, stranger_key)}, format="json"
    )

    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"
    assert "access_token" not in response.json()
    assert User.objects.count() == count


def test_exchange_answers_our_own_auth_response(certs, key, imported):
    response = APIClient().post(
        "/api/v1/auth/firebase", {"id_token": sign(key, claims_for("fbUid0001"))}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["user"]["id"] == str(imported.pk)
    # The pair is ours: it works without Firebase, and refreshes like any other.
    me = _bearer(body["access_token"]).get("/api/v1/auth/me")
    assert me.status_code == 200
    refreshed = APIClient().post(
        "/api/v1/auth/refresh", {"refresh_token": body["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == 200


def test_exchange_creates_a_user_for_an_unknown_uid(certs, key, db):
    response = APIClient().post(
        "/api/v1/auth/firebase", {"id_token": sign(key, claims_for("Fresh1"))}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(firebase.firebase_user_id("Fresh1"))
    assert User.objects.get(firebase_uid="Fresh1").migration_source == "firebase_lazy"


def test_exchange_refuses_a_firebase_account_without_e_mail(certs, key, db):
    token = sign(key, claims_for("PhoneOnly", email=None, email_verified=None))

    response = APIClient().post("/api/v1/auth/firebase", {"id_token": token}, format="json")

    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"
    assert not User.objects.exists()


def test_a_disabled_user_is_refused(certs, key, imported):
    User.objects.filter(pk=imported.pk).update(is_active=False)
    token = sign(key, claims_for("fbUid0001"))

    rest = _bearer(token).get("/api/v1/auth/me")
    exchange = APIClient().post("/api/v1/auth/firebase", {"id_token": token}, format="json")

    assert rest.status_code == 401
    assert exchange.status_code == 401
    assert _error(exchange)["code"] == "authentication_failed"
    assert "access_token" not in exchange.json()


def test_after_firebase_tokens_until_they_answer_legacy_token_expired(
    certs, key, imported, settings
):
    settings.FIREBASE_TOKENS_UNTIL = (timezone.now() - timedelta(days=1)).date()
    token = sign(key, claims_for("fbUid0001"))

    rest = _bearer(token).get("/api/v1/auth/me")
    exchange = APIClient().post("/api/v1/auth/firebase", {"id_token": token}, format="json")

    for response in (rest, exchange):
        assert response.status_code == 401
        assert _error(response)["code"] == "legacy_token_expired"
    assert certs.fetches == 0


def test_on_the_last_day_of_the_bridge_tokens_still_work(certs, key, imported, settings):
    settings.FIREBASE_TOKENS_UNTIL = timezone.now().date()

    response = _bearer(sign(key, claims_for("fbUid0001"))).get("/api/v1/auth/me")

    assert response.status_code == 200


def test_without_a_project_firebase_tokens_are_not_accepted(certs, key, imported, settings):
    settings.FIREBASE_PROJECT_ID = ""
    token = sign(key, claims_for("fbUid0001"))

    rest = _bearer(token).get("/api/v1/auth/me")
    exchange = APIClient().post("/api/v1/auth/firebase", {"id_token": token}, format="json")

    assert rest.status_code == 401
    assert exchange.status_code == 401
    assert certs.fetches == 0


def test_unreachable_certificates_answer_503_not_a_login(key, imported, settings):
    settings.FIREBASE_PROJECT_ID = PROJECT
    settings.FIREBASE_CERTS_URL = "http://127.0.0.1:9/certs"  # discard port: refused
    firebase.clear_certificate_cache()

    response = _bearer(sign(key, claims_for("fbUid0001"))).get("/api/v1/auth/me")

    assert response.status_code == 503
    assert _error(response)["code"] == "service_unavailable"


@pytest.mark.django_db(transaction=True)
async def test_events_websocket_accepts_a_firebase_token(certs, key):
    user = await database_sync_to_async(make_user)(firebase_uid="WsUid")
    token = sign(key, claims_for("WsUid"))
    ws = WebsocketCommunicator(
        application, "/ws/events/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from() == {"type": "connected", "user_id": str(user.pk)}
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["alg none", "wrong audience", "expired"])
async def test_events_websocket_refuses_a_bad_firebase_token(case, certs, key, stranger_key):
    await database_sync_to_async(make_user)(firebase_uid="fbUid0001")
    ws = WebsocketCommunicator(application, f"/ws/events/?token={_forged(case, key, stranger_key)}")
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_output() == {
        "type": "websocket.close",
        "code": 4401,
        "reason": "Not signed in.",
    }


@pytest.mark.django_db(transaction=True)
async def test_chat_websocket_accepts_a_firebase_token(certs, key):
    user = await database_sync_to_async(make_user)(firebase_uid="ChatUid")
    conversation = await database_sync_to_async(conversation_for)(user)
    token = sign(key, claims_for("ChatUid"))
    ws = WebsocketCommunicator(application, f"/ws/ai/chat/{conversation.session_id}/?token={token}")
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from() == {
        "type": "connected",
        "session_id": str(conversation.session_id),
    }
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_events_websocket_after_the_bridge_ends_is_refused(certs, key, settings):
    await database_sync_to_async(make_user)(firebase_uid="fbUid0001")
    settings.FIREBASE_TOKENS_UNTIL = (timezone.now() - timedelta(days=1)).date()
    ws = WebsocketCommunicator(
        application, f"/ws/events/?token={sign(key, claims_for('fbUid0001'))}"
    )
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_output() == {
        "type": "websocket.close",
        "code": 4401,
        "reason": "Not signed in.",
    }


def test_a_new_password_here_ends_firebase_sessions_signed_in_before_it(certs, key, imported):
    signed_in_before = sign(key, claims_for("fbUid0001"))
    imported.set_password("A-new-password-77")
    imported.save()

    refused = _bearer(signed_in_before).get("/api/v1/auth/me")

    assert refused.status_code == 401
    assert _error(refused)["code"] == "token_not_valid"


def test_a_firebase_sign_in_after_sessions_ended_is_accepted(certs, key, imported):
    now = timezone.now()
    User.objects.filter(pk=imported.pk).update(sessions_ended_at=now - timedelta(minutes=5))
    stamp = int(now.timestamp())

    later = _bearer(sign(key, claims_for("fbUid0001", auth_time=stamp - 60)))
    earlier = _bearer(sign(key, claims_for("fbUid0001", auth_time=stamp - 600)))

    assert later.get("/api/v1/auth/me").status_code == 200
    assert earlier.get("/api/v1/auth/me").status_code == 401
