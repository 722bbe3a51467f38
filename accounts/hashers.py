"""Firebase Auth's modified scrypt, so that users imported from Firebase keep their password.

Firebase derives a key with scrypt(password, salt + salt separator) and stores the project's
signer key encrypted with it (AES-256-CTR, zero IV); https://github.com/firebase/scrypt
documents it. No maintained Python package implements it (the ports are unpackaged scripts),
and the standard library's scrypt plus `cryptography`'s AES make it a few lines, hence here.

The hasher only verifies: the first successful login re-hashes the password with the first
of PASSWORD_HASHERS (Django's check_password does that for any hasher that is not the
preferred one), so firebase_scrypt hashes disappear as users come back.
"""

import base64
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_noop as _

ALGORITHM = "firebase_scrypt"
# Firebase projects use mem_cost 14 and rounds 8; the bounds keep a crafted hash from
# asking for gigabytes of memory.
MAX_MEM_COST = 17
MAX_ROUNDS = 16


@dataclass(frozen=True)
class FirebaseHashConfig:
    """A project's "Password Hash Parameters", as the Firebase console shows them."""

    signer_key: bytes
    salt_separator: bytes
    rounds: int
    mem_cost: int

    def __post_init__(self) -> None:
        if not (1 <= self.rounds <= MAX_ROUNDS and 1 <= self.mem_cost <= MAX_MEM_COST):
            raise ValueError("rounds or mem_cost out of the range Firebase uses")
        if not self.signer_key:
            raise ValueError("the signer key is empty")

    @classmethod
    def from_console(cls, config: dict) -> "FirebaseHashConfig":
        """From `{"algorithm": "SCRYPT", "base64_signer_key", "base64_salt_separator",
        "rounds", "mem_cost"}`; raises ValueError for anything else."""
        if str(config.get("algorithm", "")).upper() != "SCRYPT":
            raise ValueError(f"unsupported hash algorithm {config.get('algorithm')!r}")
        try:
            return cls(
                signer_key=base64.b64decode(config["base64_signer_key"], validate=True),
                salt_separator=base64.b64decode(config["base64_salt_separator"], validate=True),
                rounds=int(config["rounds"]),
                mem_cost=int(config["mem_cost"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"invalid hash config: {exc}") from exc


def firebase_scrypt(password: str, salt: bytes, config: FirebaseHashConfig) -> bytes:
    n = 2**config.mem_cost
    key = hashlib.scrypt(
        password.encode(),
        salt=salt + config.salt_separator,
        n=n,
        r=config.rounds,
        p=1,
        dklen=32,
        maxmem=256 * config.rounds * n,
    )
    encryptor = Cipher(algorithms.AES(key), modes.CTR(b"\0" * 16)).encryptor()
    return encryptor.update(config.signer_key) + encryptor.finalize()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def encode_imported(*, password_hash: str, salt: str, config: FirebaseHashConfig) -> str:
    """The Django password value for an exported user (`passwordHash`, `salt`: base64).

    The project's parameters travel inside it, so it verifies without any setting and
    users of two Firebase projects can live side by side.
    """
    raw_hash = base64.b64decode(password_hash, validate=True)
    raw_salt = base64.b64decode(salt, validate=True)
    if not raw_hash:
        raise ValueError("empty password hash")
    return "$".join(
        [
            ALGORITHM,
            str(config.rounds),
            str(config.mem_cost),
            _b64(raw_salt),
            _b64(config.salt_separator),
            _b64(config.signer_key),
            _b64(raw_hash),
        ]
    )


class FirebaseScryptPasswordHasher(BasePasswordHasher):
    algorithm = ALGORITHM

    def decode(self, encoded: str) -> dict:
        algorithm, rounds, mem_cost, salt, separator, signer_key, hash_ = encoded.split("$")
        assert algorithm == self.algorithm
        return {
            "algorithm": algorithm,
            "salt": salt,
            "hash": hash_,
            "config": FirebaseHashConfig(
                signer_key=base64.b64decode(signer_key),
                salt_separator=base64.b64decode(separator),
                rounds=int(rounds),
                mem_cost=int(mem_cost),
            ),
        }

    def encode(self, password: str, salt: str) -> str:
        # New passwords get the project's own hasher; this one exists for imported hashes.
        raise NotImplementedError("firebase_scrypt only verifies imported Firebase hashes")

    def verify(self, password: str, encoded: str) -> bool:
        try:
            decoded = self.decode(encoded)
        except (ValueError, AssertionError):
            return False
        computed = firebase_scrypt(password, base64.b64decode(decoded["salt"]), decoded["config"])
        return constant_time_compare(_b64(computed), decoded["hash"])

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {
            _("algorithm"): decoded["algorithm"],
            _("rounds"): decoded["config"].rounds,
            _("memory cost"): decoded["config"].mem_cost,
            _("salt"): mask_hash(decoded["salt"]),
            _("hash"): mask_hash(decoded["hash"]),
        }

    def must_update(self, encoded: str) -> bool:
        return True

    def harden_runtime(self, password: str, encoded: str) -> None:
        # Imported hashes all share their project's cost; nothing to even out.
        return None
