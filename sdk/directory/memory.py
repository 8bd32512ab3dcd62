"""An in-memory directory with AD's semantics for what pamchain uses: lockout, membership, password rules.

The embedded default for demos and unit tests. Thread-safe (one lock around every operation).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pamchain.sdk.directory import (
    Account,
    AccountNotFound,
    AccountRef,
    AlreadyExists,
    AuthenticationFailed,
    Group,
    GroupNotFound,
    GroupRef,
    IdResolver,
    Member,
    Membership,
    StaticIdMap,
    group_account_name,
    normalize_dn,
)
from pamchain.sdk.directory.password_policy import PasswordPolicy

DOMAIN_USERS_RID = 513


@dataclass
class _User:
    dn: str
    sam: str
    guid: bytes
    password: str = field(repr=False)
    enabled: bool = True
    must_change: bool = False
    bad_count: int = 0
    locked_at: float | None = None  # AD's lockoutTime; None is 0
    primary_group: int = DOMAIN_USERS_RID
    password_set_at: int = 0  # pwdLastSet's stand-in: a counter that grows with every reset


@dataclass
class _Group:
    dn: str
    sam: str
    guid: bytes
    rid: int
    members: set[str] = field(default_factory=set)  # casefolded sAMAccountNames (users and nested groups)


class MemoryDirectory:
    """Implements `ManagedDirectory` in memory.

    Like AD: `lockout_threshold` bad passwords lock an account (0 disables lockout); a locked account refuses
    even its right password until unlocked or until `lockout_duration` seconds pass; a reset does not unlock.
    """

    def __init__(
        self,
        *,
        base_dn: str = "DC=pamchain,DC=test",
        policy: PasswordPolicy | None = None,
        resolver: IdResolver | None = None,
        lockout_threshold: int = 3,
        lockout_duration: float = 30 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_dn = base_dn
        self._policy = policy if policy is not None else PasswordPolicy()
        self._resolver: IdResolver = resolver if resolver is not None else StaticIdMap()
        self._threshold = lockout_threshold
        self._duration = lockout_duration
        self._clock = clock
        self._users: dict[str, _User] = {}
        self._groups: dict[str, _Group] = {}
        self._next_rid = 1100
        self._password_counter = 1
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return (
            f"MemoryDirectory(base_dn={self.base_dn!r}, users={len(self._users)}, groups={len(self._groups)})"
        )

    # --- lookups --------------------------------------------------------------------------------------------

    def _user(self, account: AccountRef) -> _User:
        if account.object_guid is not None:
            # Bound to an objectGUID: the name is only a label (it may now belong to somebody else).
            for candidate in self._users.values():
                if candidate.guid == account.object_guid:
                    return candidate
            raise AccountNotFound(account)
        user = self._users.get(account.key)
        if user is None:
            raise AccountNotFound(account)
        return user

    def _group(self, group: GroupRef) -> _Group:
        found = self._groups.get(group.key)
        if found is None:
            raise GroupNotFound(group)
        return found

    def _locked(self, user: _User) -> bool:
        if user.locked_at is None:
            return False
        if self._clock() - user.locked_at >= self._duration:
            user.locked_at = None  # AD: the lockout expires by itself after the duration
            user.bad_count = 0
            return False
        return True

    def _snapshot(self, user: _User) -> Account:
        return Account(
            dn=user.dn,
            sam_account_name=user.sam,
            object_guid=user.guid,
            locked=self._locked(user),
            enabled=user.enabled,
            must_change_password=user.must_change,
            primary_group_id=user.primary_group,
            lockout_time=0 if user.locked_at is None else 1,
            password_last_set=0 if user.must_change else user.password_set_at,
        )

    # --- Directory ------------------------------------------------------------------------------------------

    def account(self, account: AccountRef) -> Account:
        with self._lock:
            return self._snapshot(self._user(account))

    def accounts(self) -> Iterator[Account]:
        with self._lock:
            snapshot = [self._snapshot(u) for u in self._users.values()]
        return iter(snapshot)

    def resolve(self, directory_id: bytes) -> AccountRef:
        return self._resolver.account_for(directory_id, self)

    def is_locked(self, account: AccountRef) -> bool:
        with self._lock:
            return self._locked(self._user(account))

    def unlock(self, account: AccountRef) -> None:
        with self._lock:
            user = self._user(account)
            user.locked_at = None
            user.bad_count = 0

    def is_member(self, group: GroupRef, account: AccountRef) -> bool:
        return self.membership(group, account).effective

    def membership(self, group: GroupRef, account: AccountRef) -> Membership:
        with self._lock:
            user = self._user(account)
            found = self._group(group)
            key = user.sam.casefold()
            return Membership(
                direct=key in found.members,
                nested=self._nested(found, key, set()),
                primary=user.primary_group == found.rid,
            )

    def _nested(self, group: _Group, key: str, seen: set[str]) -> bool:
        """Member through a chain of groups (AD's LDAP_MATCHING_RULE_IN_CHAIN also counts direct)."""
        if key in group.members:
            return True
        seen.add(group.sam.casefold())
        for child in self._groups.values():
            name = child.sam.casefold()
            if name in group.members and name not in seen and self._nested(child, key, seen):
                return True
        return False

    def list_members(self, group: GroupRef) -> frozenset[AccountRef]:
        with self._lock:
            found = self._group(group)
            return frozenset(AccountRef(self._name_of(key)) for key in found.members)

    def members(self, group: GroupRef) -> frozenset[Member]:
        with self._lock:
            found = self._group(group)
            out = set()
            for key in found.members:
                if key in self._users:
                    user = self._users[key]
                    out.add(Member(user.dn, user.guid, "user", user.sam))
                else:
                    child = next(g for g in self._groups.values() if g.sam.casefold() == key)
                    out.add(Member(child.dn, child.guid, "group", child.sam))
            for user in self._users.values():
                if user.primary_group == found.rid:
                    out.add(Member(user.dn, user.guid, "user", user.sam, primary=True))
            return frozenset(out)

    def _name_of(self, key: str) -> str:
        if key in self._users:
            return self._users[key].sam
        return next(g.sam for g in self._groups.values() if g.sam.casefold() == key)

    def add_member(self, group: GroupRef, account: AccountRef) -> None:
        with self._lock:
            found = self._group(group)
            user = self._user(account)
            found.members.add(user.sam.casefold())  # already a member: the desired state holds

    def remove_member(self, group: GroupRef, account: AccountRef) -> None:
        with self._lock:
            found = self._group(group)
            user = self._user(account)
            if user.primary_group == found.rid:
                user.primary_group = DOMAIN_USERS_RID
            found.members.discard(user.sam.casefold())  # not a member: the desired state holds

    def remove_object(self, group: GroupRef, member: Member) -> None:
        with self._lock:
            found = self._group(group)
            for user in self._users.values():
                if user.guid == member.object_guid and user.primary_group == found.rid:
                    user.primary_group = DOMAIN_USERS_RID
            if member.sam_account_name is not None:
                found.members.discard(member.sam_account_name.casefold())

    def create_ou(self, name: str) -> str:
        """An organizational unit's DN under the base DN (nothing else to keep: accounts carry their DN)."""
        return f"OU={_escape_rdn(name)},{self.base_dn}"

    def set_enabled(self, account: AccountRef, enabled: bool) -> None:
        with self._lock:
            self._user(account).enabled = enabled

    def move(self, account: AccountRef, container_dn: str) -> str:
        """Move the account under ``container_dn`` (its objectGUID stays); returns its new DN."""
        with self._lock:
            user = self._user(account)
            user.dn = f"CN={_escape_rdn(user.sam)},{container_dn}"
            return user.dn

    # --- what a grantee (or an intruder) can do behind the oracle's back, for tests ---------------------------

    def set_primary_group(self, account: AccountRef, group: GroupRef) -> None:
        """AD refuses a primary group the account is not a direct member of."""
        with self._lock:
            user, found = self._user(account), self._group(group)
            if user.sam.casefold() not in found.members:
                raise ValueError("the primary group must be one the account is a member of")
            user.primary_group = found.rid
            found.members.discard(user.sam.casefold())  # AD keeps the primary group out of `member`

    def add_group_member(self, group: GroupRef, child: GroupRef) -> None:
        """Nest ``child`` in ``group``."""
        with self._lock:
            found, nested = self._group(group), self._group(child)
            found.members.add(nested.sam.casefold())

    def reset_password(self, account: AccountRef, new_password: str, must_change: bool = False) -> bool:
        """Like an admin reset on a DC without policy hints: no history kept (False: the caller keeps it)."""
        with self._lock:
            user = self._user(account)
            self._policy.check(AccountRef(user.sam), new_password)
            user.password = new_password
            user.must_change = must_change
            self._password_counter += 1
            user.password_set_at = self._password_counter
            return False

    # --- ManagedDirectory -----------------------------------------------------------------------------------

    def create_user(self, sam_account_name: str, password: str, *, enabled: bool = True) -> Account:
        ref = AccountRef(sam_account_name)
        with self._lock:
            if ref.key in self._users or any(g.sam.casefold() == ref.key for g in self._groups.values()):
                raise AlreadyExists(sam_account_name)
            self._policy.check(ref, password)
            user = _User(
                dn=f"CN={_escape_rdn(sam_account_name)},CN=Users,{self.base_dn}",
                sam=sam_account_name,
                guid=secrets.token_bytes(16),
                password=password,
                enabled=enabled,
                password_set_at=self._password_counter,
            )
            self._users[ref.key] = user
            return self._snapshot(user)

    def create_group(self, name: str) -> Group:
        with self._lock:
            dn = f"CN={_escape_rdn(name)},CN=Users,{self.base_dn}"
            key = normalize_dn(dn)
            sam = group_account_name(name)
            if key in self._groups or sam.casefold() in self._users:
                raise AlreadyExists(name)
            self._next_rid += 1
            group = _Group(dn=dn, sam=sam, guid=secrets.token_bytes(16), rid=self._next_rid)
            self._groups[key] = group
            return Group(dn=group.dn, sam_account_name=group.sam, object_guid=group.guid)

    def delete(self, dn: str) -> None:
        key = normalize_dn(dn)
        with self._lock:
            if key in self._groups:
                del self._groups[key]
                return
            for sam, user in list(self._users.items()):
                if normalize_dn(user.dn) == key:
                    del self._users[sam]
                    for group in self._groups.values():
                        group.members.discard(sam)
                    return
        raise LookupError(f"no such object: {dn}")

    def authenticate(self, account: AccountRef, password: str) -> None:
        with self._lock:
            user = self._users.get(account.key)
            if user is None:
                # AD answers an unknown user exactly like a wrong password (data 52e).
                raise AuthenticationFailed(account, AuthenticationFailed.INVALID_CREDENTIALS)
            if self._locked(user):
                raise AuthenticationFailed(account, AuthenticationFailed.ACCOUNT_LOCKED)
            if not secrets.compare_digest(user.password.encode(), password.encode()):
                user.bad_count += 1
                if self._threshold and user.bad_count >= self._threshold:
                    user.locked_at = self._clock()
                raise AuthenticationFailed(account, AuthenticationFailed.INVALID_CREDENTIALS)
            user.bad_count = 0
            if not user.enabled:
                raise AuthenticationFailed(account, AuthenticationFailed.ACCOUNT_DISABLED)
            if user.must_change:
                raise AuthenticationFailed(account, AuthenticationFailed.MUST_CHANGE_PASSWORD)


def _escape_rdn(value: str) -> str:
    """Escape an RDN value per RFC 4514 (the same rule ldap3's DN helpers apply)."""
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;=' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(value) - 1)):
            out.append("\\" + ch)
        elif ch == "\x00":
            out.append("\\00")
        else:
            out.append(ch)
    return "".join(out)
