"""Passwords of users imported from Firebase Auth: the firebase_scrypt hasher, its upgrade at
the first login, and password reset for accounts that came without a usable password."""

import re

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core import mail

from accounts.hashers import FirebaseHashConfig, encode_imported
from accounts.models import User

# Firebase's own published example (README of github.com/firebase/scrypt): the project's
# Password Hash Parameters, one exported account and its password.
PUBLISHED = {
    "algorithm": "SCRYPT",
    "base64_signer_key": (
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
    ),
    "base64_salt_separator": "Bw==",
    "rounds": 8,
    "mem_cost": 14,
}
PUBLISHED_SALT = "42xEC+ixf3L2lw=="
PUBLISHED_HASH = (
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
)
PUBLISHED_PASSWORD = "user1password"
STRONG = "Fresh-strong-pass-42"


def _published_encoded() -> str:
    return encode_imported(
        password_hash=PUBLISHED_HASH,
        salt=PUBLISHED_SALT,
        config=FirebaseHashConfig.from_console(PUBLISHED),
    )


def test_firebase_scrypt_verifies_firebases_published_test_vector():
    encoded = _published_encoded()
    assert identify_hasher(encoded).algorithm == "firebase_scrypt"
    assert check_password(PUBLISHED_PASSWORD, encoded)
    assert not check_password("user1password ", encoded)
    assert not check_password("", encoded)


def test_firebase_scrypt_refuses_a_hash_of_another_project():
    other = {**PUBLISHED, "base64_salt_separator": "CA=="}
    encoded = encode_imported(
        password_hash=PUBLISHED_HASH,
        salt=PUBLISHED_SALT,
        config=FirebaseHashConfig.from_console(other),
    )
    assert not check_password(PUBLISHED_PASSWORD, encoded)


def test_firebase_scrypt_refuses_a_mangled_hash():
    assert not check_password(PUBLISHED_PASSWORD, "firebase_scrypt$8$14$nonsense")


@pytest.mark.parametrize(
    "change",
    [
        {"algorithm": "BCRYPT"},
        {"rounds": 0},
        {"mem_cost": 40},
        {"base64_signer_key": "not base64!"},
    ],
)
def test_hash_config_refuses_what_firebase_never_writes(change):
    with pytest.raises(ValueError):
        FirebaseHashConfig.from_console({**PUBLISHED, **change})


@pytest.mark.django_db
def test_first_login_rehashes_an_imported_password_with_the_default_hasher(api_client):
    user = User.objects.create(email="user1@test.com", name="Test User 1")
    User.objects.filter(pk=user.pk).update(password=_published_encoded())
    version = User.objects.get(pk=user.pk).token_version

    response = api_client.post(
        "/api/v1/auth/login",
        {"email": "user1@test.com", "password": PUBLISHED_PASSWORD},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(user.pk)
    user.refresh_from_db()
    # The tests' default hasher (tests/settings.py) is MD5; in production it is Argon2.
    assert user.password.startswith("md5$")
    # An upgrade is not a new password: the session just issued stays valid.
    assert user.token_version == version
    me = api_client.get(
        "/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}"
    )
    assert me.status_code == 200
    again = api_client.post(
        "/api/v1/auth/login",
        {"email": "user1@test.com", "password": PUBLISHED_PASSWORD},
        format="json",
    )
    assert again.status_code == 200


@pytest.mark.django_db
def test_wrong_password_for_an_imported_hash_is_refused_and_keeps_the_hash(api_client):
    user = User.objects.create(email="user1@test.com", name="Test User 1")
    User.objects.filter(pk=user.pk).update(password=_published_encoded())

    response = api_client.post(
        "/api/v1/auth/login", {"email": "user1@test.com", "password": "guess"}, format="json"
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    user.refresh_from_db()
    assert user.password == _published_encoded()


@pytest.mark.django_db
def test_password_reset_works_for_an_account_without_a_usable_password(
    api_client, django_capture_on_commit_callbacks
):
    # A Firebase user who only ever signed in with Google: imported with no hash.
    user = User.objects.create_user("social@example.com", None, name="Social Only")
    assert not user.has_usable_password()

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/auth/reset-password", {"email": "social@example.com"}, format="json"
        )

    assert response.status_code == 202
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["social@example.com"]
    code = re.search(r"^(\d{6})$", mail.outbox[0].body, re.MULTILINE).group(1)
    confirm = api_client.post(
        "/api/v1/auth/reset-password/confirm",
        {"email": "social@example.com", "code": code, "new_password": STRONG},
        format="json",
    )
    assert confirm.status_code == 204
    login = api_client.post(
        "/api/v1/auth/login", {"email": "social@example.com", "password": STRONG}, format="json"
    )
    assert login.status_code == 200
    user.refresh_from_db()
    assert user.has_usable_password()
