"""The directory interface the oracle applies on-chain decisions through, in pamchain's own types.

Two implementations: `memory_directory.MemoryDirectory` (embedded, demos and unit tests) and
`ldap_directory.LdapDirectory` (Active Directory over LDAPS). Accounts are named by sAMAccountName and
groups by DN, both only off chain; the chain carries pseudonymous 32-byte ids that `resolve` maps back to
accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from pamchain.sdk.errors import SdkError

DIRECTORY_ID_LENGTH = 32


@dataclass(frozen=True, eq=False)
class AccountRef:
    """An account by sAMAccountName; compared case-insensitively, as AD does.

    With ``object_guid`` set the account is found by its objectGUID and the name is only a label: a name can
    be reused by another person after a deletion, a GUID never is. Actions always carry the GUID.
    """

    sam_account_name: str
    object_guid: bytes | None = None

    def __post_init__(self) -> None:
        if not self.sam_account_name or self.sam_account_name != self.sam_account_name.strip():
            raise ValueError("sAMAccountName must be non-empty without surrounding spaces")

    @property
    def key(self) -> str:
        return self.sam_account_name.casefold()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AccountRef) and self.key == other.key

    def __hash__(self) -> int:
        return hash(("AccountRef", self.key))

    def __str__(self) -> str:
        return self.sam_account_name

    def pinned(self, object_guid: bytes) -> AccountRef:
        """This account bound to ``object_guid``."""
        return AccountRef(self.sam_account_name, bytes(object_guid))


@dataclass(frozen=True, eq=False)
class GroupRef:
    """A group by distinguished name; compared case-insensitively and ignoring spaces around separators."""

    dn: str

    def __post_init__(self) -> None:
        if "=" not in self.dn:
            raise ValueError("a group is named by its DN (CN=...,OU=...,DC=...)")

    @property
    def key(self) -> str:
        return normalize_dn(self.dn)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GroupRef) and self.key == other.key

    def __hash__(self) -> int:
        return hash(("GroupRef", self.key))

    def __str__(self) -> str:
        return self.dn


@dataclass(frozen=True)
class Account:
    """What the oracle may learn about an account: no password data, no personal attributes."""

    dn: str
    sam_account_name: str
    object_guid: bytes  # 16 bytes, AD's little-endian binary form
    locked: bool
    enabled: bool = True
    must_change_password: bool = False
    primary_group_id: int = 513  # RID of the primary group (513: Domain Users)
    lockout_time: int = 0  # AD's lockoutTime (100 ns since 1601), 0 when not locked out
    password_last_set: int = 0  # AD's pwdLastSet (100 ns since 1601): read back after a reset

    @property
    def ref(self) -> AccountRef:
        """A reference bound to this account's objectGUID."""
        return AccountRef(self.sam_account_name, self.object_guid)


@dataclass(frozen=True)
class Member:
    """A direct or primary-group member of a group, whatever its object class (user, group, computer,
    foreign security principal): drift detection must see every one of them."""

    dn: str
    object_guid: bytes
    kind: str  # "user", "group", "computer", "foreign", "other"
    sam_account_name: str | None = None
    primary: bool = False  # a member through primaryGroupID rather than the group's member attribute


@dataclass(frozen=True)
class Membership:
    """How an account belongs to a group: what a privilege check must look at is the effective membership."""

    direct: bool  # the group's member attribute names the account
    nested: bool  # a member through a chain of groups (LDAP_MATCHING_RULE_IN_CHAIN)
    primary: bool  # the account's primaryGroupID is the group's RID: in its token, absent from member

    @property
    def effective(self) -> bool:
        return self.direct or self.nested or self.primary

    def evidence(self) -> dict[str, bool]:
        return {"direct": self.direct, "nested": self.nested, "primary": self.primary}


@dataclass(frozen=True)
class Group:
    dn: str
    sam_account_name: str
    object_guid: bytes

    @property
    def ref(self) -> GroupRef:
        return GroupRef(self.dn)


# --- errors -------------------------------------------------------------------------------------------------
# Messages name accounts and groups (off-chain operator logs may) but never carry a password.


class DirectoryError(SdkError):
    """Root of every directory failure."""


class AccountNotFound(DirectoryError, LookupError):
    def __init__(self, account: AccountRef) -> None:
        super().__init__(f"no such account: {account.sam_account_name}")
        self.account = account


class GroupNotFound(DirectoryError, LookupError):
    def __init__(self, group: GroupRef) -> None:
        super().__init__(f"no such group: {group.dn}")
        self.group = group


class DirectoryIdNotFound(DirectoryError, LookupError):
    """No account maps to this pseudonymous directory id."""

    def __init__(self, directory_id: bytes) -> None:
        super().__init__(f"no account for directory id 0x{directory_id.hex()}")
        self.directory_id = directory_id


class AlreadyExists(DirectoryError):
    def __init__(self, name: str) -> None:
        super().__init__(f"already exists: {name}")
        self.name = name


class PasswordRejected(DirectoryError, ValueError):
    """The new password fails the local policy or the directory's; `reasons` says why (never the password)."""

    def __init__(self, account: AccountRef, reasons: Iterable[str]) -> None:
        self.account = account
        self.reasons = tuple(reasons)
        super().__init__(f"password rejected for {account.sam_account_name}: {'; '.join(self.reasons)}")


class AuthenticationFailed(DirectoryError, PermissionError):
    """A bind with an account's password failed; `reason` is one of the class constants (AD's data codes)."""

    INVALID_CREDENTIALS = "invalid credentials"  # data 52e
    ACCOUNT_LOCKED = "account locked"  # data 775
    MUST_CHANGE_PASSWORD = "password must be changed"  # data 773
    ACCOUNT_DISABLED = "account disabled"  # data 533

    def __init__(self, account: AccountRef, reason: str) -> None:
        super().__init__(f"authentication failed for {account.sam_account_name}: {reason}")
        self.account = account
        self.reason = reason


class AccessDenied(DirectoryError, PermissionError):
    """The oracle's own service account lacks a right, or its bind failed: fix the configuration."""


class TlsVerificationFailed(DirectoryError):
    """The server's certificate did not verify against the configured CA and names. Not retried blindly: it is
    a misconfiguration or an interception."""


class DirectoryUnavailable(DirectoryError, ConnectionError):
    """Transient: server down, timeout, busy. Retry with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- the interface ------------------------------------------------------------------------------------------


@runtime_checkable
class Directory(Protocol):
    """What the oracle does to the directory. Membership changes are idempotent: adding a member that is
    already there, or removing one that is not, succeeds."""

    def account(self, account: AccountRef) -> Account: ...

    def accounts(self) -> Iterator[Account]:
        """Every user account (for the pseudonymous-id resolver and reconciliation)."""
        ...

    def resolve(self, directory_id: bytes) -> AccountRef:
        """The account behind an on-chain pseudonymous id; `DirectoryIdNotFound` if none."""
        ...

    def is_locked(self, account: AccountRef) -> bool: ...

    def unlock(self, account: AccountRef) -> None: ...

    def is_member(self, group: GroupRef, account: AccountRef) -> bool:
        """Effective membership: direct, nested or primary group."""
        ...

    def membership(self, group: GroupRef, account: AccountRef) -> Membership: ...

    def list_members(self, group: GroupRef) -> frozenset[AccountRef]:
        """Direct members by sAMAccountName (nested groups appear under their own sAMAccountName)."""
        ...

    def members(self, group: GroupRef) -> frozenset[Member]:
        """Every direct member whatever its object class, and the accounts whose primary group it is."""
        ...

    def add_member(self, group: GroupRef, account: AccountRef) -> None: ...

    def remove_member(self, group: GroupRef, account: AccountRef) -> None:
        """Take the account out of the group: the direct membership and, if the group is its primary group,
        the primary group too (set back to Domain Users). Nested paths are left to drift handling."""
        ...

    def remove_object(self, group: GroupRef, member: Member) -> None:
        """Take any member object out of the group (drift removal), primary-group members included."""
        ...

    def reset_password(self, account: AccountRef, new_password: str, must_change: bool = False) -> bool:
        """Set the password; True when the directory applied its own history and age rules to the reset."""
        ...


@runtime_checkable
class ManagedDirectory(Directory, Protocol):
    """Extra operations for tests, demos and the devnet: create objects and authenticate as a user."""

    def create_user(self, sam_account_name: str, password: str, *, enabled: bool = True) -> Account: ...

    def create_group(self, name: str) -> Group: ...

    def delete(self, dn: str) -> None: ...

    def create_ou(self, name: str) -> str:
        """An organizational unit under the base DN; returns its DN."""
        ...

    def set_enabled(self, account: AccountRef, enabled: bool) -> None:
        """Set or clear ACCOUNTDISABLE, as an administrator (or an HR feed) does for a leaver."""
        ...

    def move(self, account: AccountRef, container_dn: str) -> str:
        """Move the account under ``container_dn`` (a leavers OU, say); returns its new DN."""
        ...

    def authenticate(self, account: AccountRef, password: str) -> None:
        """Bind as the account; `AuthenticationFailed` (counting a bad attempt, as AD does) on failure."""
        ...


# --- pseudonymous ids ---------------------------------------------------------------------------------------


def pseudonymous_id(key: bytes, object_guid: bytes) -> bytes:
    """The documented default on-chain id of an account: HMAC-SHA256(key, objectGUID) (binary, 16 bytes).

    Keyed so that nobody without the oracle's key can test a guessed GUID against the chain.
    """
    if len(object_guid) != 16:
        raise ValueError("objectGUID is 16 bytes")
    if len(key) < 16:
        raise ValueError("the pseudonymous-id key must be at least 16 bytes")
    return hmac.new(key, object_guid, hashlib.sha256).digest()


def group_target_id(key: bytes, dn: str) -> bytes:
    """The on-chain id of an AD group: HMAC-SHA256(key, ``pamchain:group:`` + normalized DN), under the same
    deployment key as principal ids. A plain hash of the DN would let anyone holding the chain test a list of
    guessed DNs against it; the prefix keeps group ids apart from account ids (objectGUIDs are 16 bytes)."""
    if len(key) < 16:
        raise ValueError("the pseudonymous-id key must be at least 16 bytes")
    return hmac.new(key, b"pamchain:group:" + normalize_dn(dn).encode("utf-8"), hashlib.sha256).digest()


def read_pseudonym_key(path: str | os.PathLike[str]) -> bytes:
    """The deployment's pseudonym key from its file (hex, optionally 0x-prefixed; at least 16 bytes)."""
    text = Path(path).read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text.removeprefix("0x"))
    except ValueError as exc:
        raise ValueError(f"{path}: the pseudonym key file must hold hex digits") from exc
    if len(key) < 16:
        raise ValueError(f"{path}: the pseudonym key must be at least 16 bytes")
    return key


def _check_id(directory_id: bytes) -> bytes:
    if len(directory_id) != DIRECTORY_ID_LENGTH:
        raise ValueError(f"a directory id is {DIRECTORY_ID_LENGTH} bytes, got {len(directory_id)}")
    return bytes(directory_id)


def _parse_hex_id(text: str) -> bytes:
    return _check_id(bytes.fromhex(text.removeprefix("0x")))


class IdResolver(Protocol):
    """Maps a pseudonymous directory id to an account, possibly by asking the directory."""

    def account_for(self, directory_id: bytes, directory: Directory) -> AccountRef: ...


@dataclass(frozen=True)
class StaticIdMap:
    """The oracle configuration's tables: directory id → sAMAccountName, group target id → group DN."""

    accounts: Mapping[bytes, AccountRef] = field(default_factory=dict)
    groups: Mapping[bytes, GroupRef] = field(default_factory=dict)

    @classmethod
    def from_hex(
        cls, accounts: Mapping[str, str] | None = None, groups: Mapping[str, str] | None = None
    ) -> StaticIdMap:
        return cls(
            {_parse_hex_id(k): AccountRef(v) for k, v in (accounts or {}).items()},
            {_parse_hex_id(k): GroupRef(v) for k, v in (groups or {}).items()},
        )

    def account_for(self, directory_id: bytes, directory: Directory) -> AccountRef:
        try:
            return self.accounts[_check_id(directory_id)]
        except KeyError:
            raise DirectoryIdNotFound(directory_id) from None

    def group_for(self, target_id: bytes) -> GroupRef:
        try:
            return self.groups[_check_id(target_id)]
        except KeyError:
            raise LookupError(f"no group configured for target id 0x{target_id.hex()}") from None


class HmacGuidResolver:
    """Computes `pseudonymous_id(key, objectGUID)` for every account and caches the map.

    A miss reloads the map, at most once per `min_refresh` seconds, so a newly created account is found
    without letting unknown ids turn into a directory scan each.
    """

    def __init__(
        self, key: bytes, *, min_refresh: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymous-id key must be at least 16 bytes")
        self._key = key
        self._min_refresh = min_refresh
        self._clock = clock
        self._cache: dict[bytes, AccountRef] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HmacGuidResolver(entries={len(self._cache)})"  # never the key

    def account_for(self, directory_id: bytes, directory: Directory) -> AccountRef:
        directory_id = _check_id(directory_id)
        with self._lock:
            found = self._cache.get(directory_id)
            if found is not None:
                return found
            now = self._clock()
            if self._loaded_at is None or now - self._loaded_at >= self._min_refresh:
                self._cache = {pseudonymous_id(self._key, a.object_guid): a.ref for a in directory.accounts()}
                self._loaded_at = now
                found = self._cache.get(directory_id)
                if found is not None:
                    return found
        raise DirectoryIdNotFound(directory_id)


class ChainedResolver:
    """First resolver that knows the id wins (e.g. the static table, then the HMAC of objectGUID)."""

    def __init__(self, *resolvers: IdResolver) -> None:
        self._resolvers = resolvers

    def account_for(self, directory_id: bytes, directory: Directory) -> AccountRef:
        for resolver in self._resolvers:
            try:
                return resolver.account_for(directory_id, directory)
            except DirectoryIdNotFound:
                continue
        raise DirectoryIdNotFound(directory_id)


def group_account_name(name: str) -> str:
    """The sAMAccountName given to a new group named `name` (its CN): AD forbids `"/\\[]:;|=,+*?<>` there."""
    return re.sub(r'["/\\\[\]:;|=,+*?<>]', "_", name).strip(" .") or "_"


# --- DN comparison ------------------------------------------------------------------------------------------


def normalize_dn(dn: str) -> str:
    """A comparison key for a DN: attribute types and values case-folded, spaces around `,`/`=`/`+` dropped.

    Escapes (`\\,`, `\\2C`) are kept as written, so an escaped comma never splits an RDN.
    """
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(dn):
        ch = dn[i]
        if ch == "\\" and i + 1 < len(dn):
            current.append(dn[i : i + 2])
            i += 2
            continue
        if ch in ",+":
            parts.append(_normalize_ava("".join(current)))
            parts.append(ch)
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append(_normalize_ava("".join(current)))
    return "".join(parts)


def _normalize_ava(ava: str) -> str:
    attr, _, value = ava.partition("=")
    return f"{attr.strip().casefold()}={value.strip().casefold()}"
