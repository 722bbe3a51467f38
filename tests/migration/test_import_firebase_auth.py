"""manage.py import_firebase_auth against an export file shaped like `firebase auth:export
--format=json`, with real modified-scrypt hashes under Firebase's published parameters."""

import base64
import hashlib
import json
import os
from io import StringIO

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from accounts.firebase import firebase_user_id
from accounts.models import MigrationSource, User
from migration.models import IdMap, MigrationRun, RunStatus
from migration.report import build_report
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# The sample project parameters from github.com/firebase/scrypt's README.
HASH_CONFIG = {
    "algorithm": "SCRYPT",
    "base64_signer_key": (
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
    ),
    "base64_salt_separator": "Bw==",
    "rounds": 8,
    "mem_cost": 14,
}


def firebase_hash(password: str, salt: bytes) -> str:
    """Firebase's modified scrypt, written out here on its own so the importer's hasher is
    checked against it rather than against itself."""
    key = hashlib.scrypt(
        password.encode(),
        salt=salt + base64.b64decode(HASH_CONFIG["base64_salt_separator"]),
        n=2 ** HASH_CONFIG["mem_cost"],
        r=HASH_CONFIG["rounds"],
        p=1,
        dklen=32,
    )
    aes = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    signer_key = base64.b64decode(HASH_CONFIG["base64_signer_key"])
    return base64.b64encode(aes.update(signer_key) + aes.finalize()).decode()


def password_user(uid: str, email: str, password: str, **fields) -> dict:
    salt = os.urandom(12)
    return {
        "localId": uid,
        "email": email,
        "emailVerified": True,
        "passwordHash": firebase_hash(password, salt),
        "salt": base64.b64encode(salt).decode(),
        "lastSignedInAt": "1700000100000",
        "createdAt": "1600000000000",
        "providerUserInfo": [
            {"providerId": "password", "rawId": email, "email": email, "federatedId": email}
        ],
        **fields,
    }


def export_users() -> list[dict]:
    return [
        password_user(
            "uidAlice",
            "alice@example.com",
            "alice-old-pass-1",
            displayName="Alice Example",
            customAttributes='{"role":"coach","tier":2}',
            phoneNumber="+15555550100",
        ),
        password_user("uidBob", "bob@example.com", "bob-old-pass-2", emailVerified=False),
        # Disabled in Firebase.
        password_user("uidCarol", "carol@example.com", "carol-pass-3", disabled=True),
        # Social sign-in only: no hash.
        {
            "localId": "uidDan",
            "email": "dan@gmail.com",
            "emailVerified": True,
            "displayName": "Dan Google",
            "photoUrl": "https://lh3.googleusercontent.com/a/dan.jpg",
            "createdAt": "1610000000000",
            "providerUserInfo": [
                {
                    "providerId": "google.com",
                    "rawId": "1098765",
                    "email": "dan@gmail.com",
                    "displayName": "Dan Google",
                    "photoUrl": "https://lh3.googleusercontent.com/a/dan.jpg",
                }
            ],
        },
        # Non-ASCII names.
        password_user(
            "uidZoe", "zoe@example.com", "zoë-pässwörd", displayName="Zoë Łukasz-Müller 李"
        ),
        # The same address as Alice's but for its case: not guessed, rejected.
        password_user("uidAlice2", "ALICE@Example.com", "other-pass-4"),
        # A phone-only account has no address to sign in with.
        {"localId": "uidPhone", "phoneNumber": "+15555550199", "createdAt": "1620000000000"},
    ]


@pytest.fixture
def export(tmp_path):
    users = export_users()
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": users}, ensure_ascii=False), encoding="utf-8")
    config = tmp_path / "hash_config.json"
    config.write_text(json.dumps(HASH_CONFIG))
    return path, config


def run(path, config, *extra) -> str:
    out = StringIO()
    call_command(
        "import_firebase_auth", str(path), "--hash-config", str(config), *extra, stdout=out
    )
    return out.getvalue()


def counts() -> dict:
    return MigrationRun.objects.filter(source="firebase_auth").first().counts["firebase_users"]


def login(email: str, password: str):
    return APIClient().post(
        "/api/v1/auth/login", {"email": email, "password": password}, format="json"
    )


def test_import_creates_one_user_per_firebase_user_with_its_facts(export):
    path, config = export

    output = run(path, config, "--batch-size", "2")

    c = counts()
    assert (c["source_rows"], c["imported"], c["updated"], c["unchanged"], c["rejected"]) == (
        7,
        5,
        0,
        0,
        2,
    )
    assert c["reasons"] == {
        "e-mail already used by another account": 1,
        "no e-mail address (phone or anonymous account)": 1,
    }
    assert {r["id"] for r in c["rejects"]} == {"uidAlice2", "uidPhone"}
    assert "rejected 1: e-mail already used by another account" in output

    alice = User.objects.get(firebase_uid="uidAlice")
    assert alice.pk == firebase_user_id("uidAlice")
    assert alice.migration_source == MigrationSource.FIREBASE_IMPORT
    assert (alice.email, alice.name, alice.email_verified, alice.is_active) == (
        "alice@example.com",
        "Alice Example",
        True,
        True,
    )
    assert alice.password.startswith("firebase_scrypt$")
    assert alice.date_joined.timestamp() == 1600000000
    assert alice.last_login.timestamp() == 1700000100
    assert alice.legacy["customAttributes"] == {"role": "coach", "tier": 2}
    assert alice.legacy["phoneNumber"] == "+15555550100"
    assert alice.legacy["providerUserInfo"][0]["providerId"] == "password"
    assert "passwordHash" not in json.dumps(alice.legacy)

    assert User.objects.get(firebase_uid="uidBob").email_verified is False
    assert User.objects.get(firebase_uid="uidCarol").is_active is False
    dan = User.objects.get(firebase_uid="uidDan")
    assert not dan.has_usable_password()
    assert dan.legacy["photoUrl"].endswith("dan.jpg")
    assert dan.legacy["providerUserInfo"][0]["providerId"] == "google.com"
    assert User.objects.get(firebase_uid="uidZoe").name == "Zoë Łukasz-Müller 李"
    assert not User.objects.filter(firebase_uid__in=["uidAlice2", "uidPhone"]).exists()
    assert IdMap.objects.filter(source_table="firebase_users").count() == 5


def test_imported_users_log_in_with_their_old_password_and_are_rehashed(export):
    path, config = export
    run(path, config)

    response = login("alice@example.com", "alice-old-pass-1")

    assert response.status_code == 200
    assert response.json()["user"]["email_verified"] is True
    assert User.objects.get(firebase_uid="uidAlice").password.startswith("md5$")
    assert login("zoe@example.com", "zoë-pässwörd").status_code == 200
    assert login("bob@example.com", "wrong").status_code == 401
    # Disabled stays disabled, even with the right password.
    assert login("carol@example.com", "carol-pass-3").status_code == 401
    profile = APIClient()
    profile.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    assert profile.get("/api/v1/users/profile").json()["profile"]["email_verified"] is True


def test_a_second_run_changes_nothing_and_says_so(export):
    path, config = export
    run(path, config)
    assert login("alice@example.com", "alice-old-pass-1").status_code == 200
    rehashed = User.objects.get(firebase_uid="uidAlice").password
    before = {u.pk: (u.updated_at, u.password) for u in User.objects.all()}

    output = run(path, config)

    c = counts()
    assert (c["imported"], c["updated"], c["unchanged"], c["rejected"]) == (0, 0, 5, 2)
    assert "No change" in output
    assert {u.pk: (u.updated_at, u.password) for u in User.objects.all()} == before
    # The password upgraded at login is not put back to the Firebase hash.
    assert User.objects.get(firebase_uid="uidAlice").password == rehashed
    assert User.objects.count() == 5


def test_a_changed_source_user_is_updated_in_place(export, tmp_path):
    path, config = export
    run(path, config)
    users = json.loads(path.read_text())["users"]
    users[1]["emailVerified"] = True
    users[2]["disabled"] = False
    path.write_text(json.dumps({"users": users}))

    run(path, config)

    c = counts()
    assert (c["imported"], c["updated"], c["unchanged"]) == (0, 2, 3)
    assert User.objects.get(firebase_uid="uidBob").email_verified is True
    assert User.objects.get(firebase_uid="uidCarol").is_active is True
    assert User.objects.count() == 5


def test_dry_run_writes_nothing_and_counts_what_it_would_do(export):
    path, config = export

    output = run(path, config, "--dry-run")

    assert not User.objects.exists()
    assert not IdMap.objects.exists()
    run_row = MigrationRun.objects.get(source="firebase_auth")
    assert run_row.status == RunStatus.DRY_RUN
    assert run_row.counts["firebase_users"]["imported"] == 5
    assert "Dry run" in output and "nothing was written" in output


def test_a_user_who_signed_in_with_a_firebase_token_first_is_not_duplicated(export):
    path, config = export
    lazy = UserFactory(
        id=firebase_user_id("uidBob"),
        email="bob@example.com",
        firebase_uid="uidBob",
        migration_source=MigrationSource.FIREBASE_LAZY,
    )
    lazy.set_unusable_password()
    lazy.save()

    run(path, config)

    bob = User.objects.get(firebase_uid="uidBob")
    assert bob.pk == lazy.pk
    # Its imported password now works.
    assert login("bob@example.com", "bob-old-pass-2").status_code == 200
    assert User.objects.count() == 5


def test_an_address_registered_here_is_not_taken_by_an_import(export):
    path, config = export
    native = UserFactory(email="bob@example.com")

    run(path, config)

    assert counts()["reasons"]["e-mail already used by another account"] == 2
    native.refresh_from_db()
    assert native.firebase_uid is None


def test_the_reconciliation_report_checks_the_imported_content(export):
    path, config = export
    run(path, config)
    report = build_report(MigrationRun.objects.get(source="firebase_auth"))
    entity = report["entities"]["firebase_users"]
    assert report["ok"] is True
    assert entity["content"]["checked"] == 5
    assert entity["unaccounted"] == 0

    User.objects.filter(firebase_uid="uidZoe").update(name="Zoe")
    broken = build_report(MigrationRun.objects.get(source="firebase_auth"))
    assert broken["ok"] is False
    assert broken["entities"]["firebase_users"]["content"]["mismatched"] == 1


def test_console_style_hash_config_is_read(export, tmp_path):
    path, _ = export
    console = tmp_path / "console.txt"
    console.write_text(
        "hash_config {\n  algorithm: SCRYPT,\n"
        f"  base64_signer_key: {HASH_CONFIG['base64_signer_key']},\n"
        "  base64_salt_separator: Bw==,\n  rounds: 8,\n  mem_cost: 14,\n}\n"
    )

    run(path, console)

    assert login("alice@example.com", "alice-old-pass-1").status_code == 200


@pytest.mark.parametrize(
    "config_text",
    ['{"algorithm": "BCRYPT"}', "not a config", '{"algorithm": "SCRYPT", "rounds": 8}'],
)
def test_an_unusable_hash_config_stops_the_command_before_it_writes(export, config_text, tmp_path):
    path, _ = export
    bad = tmp_path / "bad.json"
    bad.write_text(config_text)

    with pytest.raises(CommandError):
        run(path, bad)

    assert not User.objects.exists()
    assert not MigrationRun.objects.exists()


def test_a_missing_file_stops_the_command(export, tmp_path):
    _, config = export
    with pytest.raises(CommandError):
        run(tmp_path / "nope.json", config)


def test_a_truncated_export_fails_the_run_and_exits_non_zero(export, tmp_path):
    path, config = export
    text = path.read_text()
    path.write_text(text[: len(text) // 2])

    with pytest.raises(CommandError):
        run(path, config, "--batch-size", "1")

    assert MigrationRun.objects.get(source="firebase_auth").status == RunStatus.FAILED


def test_a_user_disabled_in_firebase_after_import_loses_their_sessions_on_rerun(export):
    path, config = export
    run(path, config)
    access = login("alice@example.com", "alice-old-pass-1").json()["access_token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.get("/api/v1/auth/me").status_code == 200
    users = json.loads(path.read_text())["users"]
    users[0]["disabled"] = True
    path.write_text(json.dumps({"users": users}))

    run(path, config)

    assert client.get("/api/v1/auth/me").status_code == 401
    assert User.objects.get(firebase_uid="uidAlice").is_active is False


@pytest.mark.parametrize("batch_size", ["1000", "1"])  # the repeat in the same batch, or later
def test_a_localid_repeated_in_the_export_is_rejected_and_the_first_kept(tmp_path, batch_size):
    first = password_user("uidEve", "eve@example.com", "eve-first-pass", displayName="Eve")
    repeat = password_user("uidEve", "eve.other@example.com", "eve-other-pass", disabled=True)
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": [first, repeat]}))
    config = tmp_path / "hash_config.json"
    config.write_text(json.dumps(HASH_CONFIG))

    run(path, config, "--batch-size", batch_size)

    c = counts()
    assert (c["source_rows"], c["imported"], c["rejected"]) == (2, 1, 1)
    assert c["rejects"] == [{"id": "uidEve", "reason": "localId repeated in the export"}]
    eve = User.objects.get()
    assert (eve.email, eve.name, eve.is_active) == ("eve@example.com", "Eve", True)
    assert login("eve@example.com", "eve-first-pass").status_code == 200
    assert build_report(MigrationRun.objects.get(source="firebase_auth"))["ok"] is True
