"""The password history the oracle keeps where the DC does not hold resets to its own.

An administrative reset skips AD's history rule unless the DC honours the policy-hints control (Samba does
not). So the oracle remembers the passwords it set itself, as salted scrypt digests in its journal on the DC
host: never on chain, never logged, never the password. It only knows passwords set through pamchain.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from pamchain.sdk.oracle.journal import Journal

KEEP = 24  # AD's default "Enforce password history"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}  # ~16 MiB and tens of ms per digest: slow for guessers


def digest(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)


class PasswordHistory:
    """Per account (objectGUID): the digests of its last ``keep`` passwords set by this oracle."""

    def __init__(self, journal: Journal, keep: int = KEEP) -> None:
        self.journal = journal
        self.keep = keep

    def used_recently(self, object_guid: bytes, password: str) -> bool:
        return any(
            hmac.compare_digest(digest(password, salt), known)
            for salt, known in self.journal.password_digests(object_guid)
        )

    def remember(self, object_guid: bytes, password: str) -> None:
        salt = os.urandom(16)
        self.journal.remember_password(object_guid, salt, digest(password, salt), self.keep)
