# Over 500 lines on purpose: the only module that touches ldap3 (one adapter, one review surface).
"""Active Directory over LDAPS (or StartTLS) with ldap3: the only module that touches ldap3.

Certificates are verified (CA file + expected names); one connection is reused and reopened on failure; every
filter value is escaped; AD's result codes become pamchain's directory errors.
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.conv import escape_bytes, escape_filter_chars
from ldap3.utils.dn import escape_rdn, safe_dn, to_dn
from pamchain.sdk.directory import (
    AccessDenied,
    Account,
    AccountNotFound,
    AccountRef,
    AlreadyExists,
    AuthenticationFailed,
    DirectoryError,
    DirectoryUnavailable,
    Group,
    GroupNotFound,
    GroupRef,
    IdResolver,
    Member,
    Membership,
    PasswordRejected,
    StaticIdMap,
    TlsVerificationFailed,
    group_account_name,
)
from pamchain.sdk.directory.password_policy import PasswordPolicy

T = TypeVar("T")

# LDAP result codes (RFC 4511) the adapter gives a meaning to.
_SUCCESS = 0
_TIME_LIMIT_EXCEEDED = 3
_STRONGER_AUTH_REQUIRED = 8
_NO_SUCH_ATTRIBUTE = 16
_CONSTRAINT_VIOLATION = 19
_ATTRIBUTE_OR_VALUE_EXISTS = 20
_NO_SUCH_OBJECT = 32
_INVALID_CREDENTIALS = 49
_INSUFFICIENT_ACCESS = 50
_BUSY = 51
_UNAVAILABLE = 52
_UNWILLING_TO_PERFORM = 53
_ENTRY_ALREADY_EXISTS = 68
_UNAVAILABLE_CRITICAL_EXTENSION = 12
_TRANSIENT = {_TIME_LIMIT_EXCEEDED, _BUSY, _UNAVAILABLE}
# LDAP_SERVER_POLICY_HINTS (Windows Server 2012+): an admin reset is held to the password history and minimum
# age like a user's own change. Value: BER SEQUENCE { flags INTEGER 1 }.
_POLICY_HINTS_OID = "1.2.840.113556.1.4.2239"
_POLICY_HINTS_ON = b"\x30\x03\x02\x01\x01"

# userAccountControl / msDS-User-Account-Control-Computed bits.
_UF_ACCOUNTDISABLE = 0x2
_UF_LOCKOUT = 0x10
_UF_NORMAL_ACCOUNT = 0x200
_GLOBAL_SECURITY_GROUP = -2147483646  # groupType: global scope | security enabled

# AD's sub-codes in a failed bind's diagnostic message ("... AcceptSecurityContext error, data 775, v1db1").
_BIND_DATA = {
    "52e": AuthenticationFailed.INVALID_CREDENTIALS,
    "525": AuthenticationFailed.INVALID_CREDENTIALS,  # no such user: AD says the same to a client
    "775": AuthenticationFailed.ACCOUNT_LOCKED,
    "773": AuthenticationFailed.MUST_CHANGE_PASSWORD,
    "532": AuthenticationFailed.MUST_CHANGE_PASSWORD,  # password expired
    "533": AuthenticationFailed.ACCOUNT_DISABLED,
}
_BIND_DATA_RE = re.compile(r"data ([0-9a-fA-F]+)")

_ACCOUNT_ATTRIBUTES = [
    "sAMAccountName",
    "objectGUID",
    "userAccountControl",
    "msDS-User-Account-Control-Computed",
    "lockoutTime",
    "pwdLastSet",
    "primaryGroupID",
]
_DOMAIN_USERS_RID = 513
_IN_CHAIN = "1.2.840.113556.1.4.1941"  # LDAP_MATCHING_RULE_IN_CHAIN: transitive membership
_MEMBER_ATTRIBUTES = ["objectGUID", "objectClass", "sAMAccountName"]
_USER_FILTER = "(&(objectCategory=person)(objectClass=user))"


@dataclass(frozen=True)
class LdapConfig:
    """How the oracle reaches AD. The bind password comes from a file or an environment variable, never from a
    command line (visible in `ps`) and never from this object's repr."""

    url: str  # ldaps://dc1.example.com:636, or ldap://...:389 (then StartTLS is mandatory)
    bind_dn: str  # the oracle's service account: DN, user@realm or DOMAIN\\user
    base_dn: str
    password_file: Path | None = None
    password_env: str | None = None
    ca_file: Path | None = None  # None: the system's trusted CAs
    # Names accepted in the server certificate besides the URL's host (AD certificates often lack IP SANs).
    valid_names: tuple[str, ...] = ()
    users_container: str | None = None  # where create_user/create_group put objects; default CN=Users,<base>
    connect_timeout: float = 5.0
    receive_timeout: int = 10  # whole seconds: ldap3 packs it into SO_RCVTIMEO as an integer
    page_size: int = 500

    def __post_init__(self) -> None:
        scheme = urlsplit(self.url).scheme.lower()
        if scheme not in ("ldaps", "ldap"):
            raise ValueError("url must be ldaps://host[:636] or ldap://host[:389] (StartTLS)")
        if "*" in self.valid_names:
            raise ValueError("a '*' valid name would disable certificate name checking")
        if (self.password_file is None) == (self.password_env is None):
            raise ValueError("give exactly one bind password source: password_file or password_env")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LdapConfig:
        """From the oracle's configuration file section (keys as the field names)."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown LDAP configuration keys: {', '.join(unknown)}")
        known = dict(data)
        for key in ("password_file", "ca_file"):
            if known.get(key) is not None:
                known[key] = Path(known[key])
        if "valid_names" in known:
            known["valid_names"] = tuple(known["valid_names"])
        return cls(**known)

    def bind_password(self) -> str:
        if self.password_file is not None:
            try:
                return self.password_file.read_text().rstrip("\r\n")
            except OSError as exc:
                raise AccessDenied(f"cannot read the bind password file {self.password_file}") from exc
        value = os.environ.get(self.password_env or "")
        if not value:
            raise AccessDenied(f"environment variable {self.password_env} with the bind password is not set")
        return value

    @property
    def container(self) -> str:
        return self.users_container or f"CN=Users,{self.base_dn}"


class LdapDirectory:
    """Implements `ManagedDirectory` on Active Directory (or Samba AD) over TLS."""

    def __init__(
        self,
        config: LdapConfig,
        *,
        resolver: IdResolver | None = None,
        policy: PasswordPolicy | None = None,
    ) -> None:
        self.config = config
        self._resolver: IdResolver = resolver if resolver is not None else StaticIdMap()
        # Checked before AD so a rejection has a precise reason; None leaves it to AD alone.
        self._policy = policy
        self._conn: ldap3.Connection | None = None
        self._policy_hints: bool | None = (
            None  # does the DC honour LDAP_SERVER_POLICY_HINTS? (None: not tried)
        )
        self._lock = threading.RLock()
        parts = urlsplit(config.url)
        self._use_ssl = parts.scheme.lower() == "ldaps"
        self._host = parts.hostname or ""
        self._port = parts.port or (636 if self._use_ssl else 389)

    def __repr__(self) -> str:
        return f"LdapDirectory(url={self.config.url!r}, bind_dn={self.config.bind_dn!r})"

    # --- connection -----------------------------------------------------------------------------------------

    def _server(self) -> ldap3.Server:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            version=ssl.PROTOCOL_TLS_CLIENT,
            ca_certs_file=str(self.config.ca_file) if self.config.ca_file else None,
            valid_names=list(self.config.valid_names) or None,
        )
        return ldap3.Server(
            self._host,
            port=self._port,
            use_ssl=self._use_ssl,
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=self.config.connect_timeout,
        )

    def _open(self, user: str, password: str) -> ldap3.Connection:
        """A connection over verified TLS, bound as `user`; the caller maps a failed bind."""
        conn = ldap3.Connection(
            self._server(),
            user=user,
            password=password,
            authentication=ldap3.SIMPLE,
            auto_bind=ldap3.AUTO_BIND_NONE,
            raise_exceptions=False,
            receive_timeout=self.config.receive_timeout,
            read_only=False,
        )
        try:
            conn.open()
            if not self._use_ssl and not conn.start_tls():
                raise DirectoryUnavailable(f"StartTLS refused by {self._host}")
            conn.bind()
        except DirectoryError:
            _close_quietly(conn)
            raise
        except ldap_exc.LDAPException as exc:
            _close_quietly(conn)
            raise _translate(exc, self._host) from exc
        return conn

    def _service_connection(self) -> ldap3.Connection:
        if self._conn is not None and not self._conn.closed and self._conn.bound:
            return self._conn
        self._conn = None
        conn = self._open(self.config.bind_dn, self.config.bind_password())
        if not conn.bound:
            code = conn.result.get("result")
            _close_quietly(conn)
            if code in _TRANSIENT:
                raise DirectoryUnavailable(f"service bind to {self._host}: {conn.result.get('description')}")
            raise AccessDenied(
                f"service bind as {self.config.bind_dn} failed: {conn.result.get('description')}"
            )
        self._conn = conn
        return conn

    def _call(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run `operation` on the shared connection; on a broken connection reopen once and retry.

        Every operation here is idempotent, so one retry after a reconnect cannot double an effect.
        """
        with self._lock:
            for attempt in (1, 2):
                try:
                    return operation(self._service_connection())
                except (ldap_exc.LDAPCommunicationError, ldap_exc.LDAPResponseTimeoutError) as exc:
                    if self._conn is not None:
                        _close_quietly(self._conn)
                    self._conn = None
                    if attempt == 2:
                        raise _translate(exc, self._host) from exc
                except DirectoryUnavailable:
                    self._conn = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                _close_quietly(self._conn)
                self._conn = None

    def __enter__(self) -> LdapDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- lookups --------------------------------------------------------------------------------------------

    def _find_account(self, conn: ldap3.Connection, account: AccountRef) -> ldap3.Entry:
        if account.object_guid is not None:
            # Bound to the objectGUID: a reused name can never redirect an action to somebody else.
            query = f"(&{_USER_FILTER}(objectGUID={escape_bytes(account.object_guid)}))"
        else:
            query = f"(&{_USER_FILTER}(sAMAccountName={escape_filter_chars(account.sam_account_name)}))"
        conn.search(self.config.base_dn, query, ldap3.SUBTREE, attributes=_ACCOUNT_ATTRIBUTES, size_limit=2)
        _check(conn, "search")
        if len(conn.entries) != 1:
            raise AccountNotFound(account)
        entry: ldap3.Entry = conn.entries[0]
        return entry

    def _account_dn(self, conn: ldap3.Connection, account: AccountRef) -> str:
        return str(self._find_account(conn, account).entry_dn)

    def account(self, account: AccountRef) -> Account:
        return self._call(lambda conn: _to_account(self._find_account(conn, account)))

    def accounts(self) -> Iterator[Account]:
        def collect(conn: ldap3.Connection) -> list[Account]:
            entries = conn.extend.standard.paged_search(
                self.config.base_dn,
                _USER_FILTER,
                ldap3.SUBTREE,
                attributes=_ACCOUNT_ATTRIBUTES,
                paged_size=self.config.page_size,
                generator=False,
            )
            _check(conn, "search")
            return [_to_account_from_response(e) for e in entries if e.get("type") == "searchResEntry"]

        return iter(self._call(collect))

    def resolve(self, directory_id: bytes) -> AccountRef:
        return self._resolver.account_for(directory_id, self)

    # --- Directory ------------------------------------------------------------------------------------------

    def is_locked(self, account: AccountRef) -> bool:
        return self.account(account).locked

    def unlock(self, account: AccountRef) -> None:
        def run(conn: ldap3.Connection) -> None:
            dn = self._account_dn(conn, account)
            conn.extend.microsoft.unlock_account(dn)  # lockoutTime := 0 (the only value AD accepts)
            _check(conn, "unlock", account=account)

        self._call(run)

    def is_member(self, group: GroupRef, account: AccountRef) -> bool:
        return self.membership(group, account).effective

    def _group_entry(self, conn: ldap3.Connection, group: GroupRef) -> ldap3.Entry:
        conn.search(group.dn, "(objectClass=group)", ldap3.BASE, attributes=["objectGUID", "objectSid"])
        if conn.result.get("result") == _NO_SUCH_OBJECT or not conn.entries:
            raise GroupNotFound(group)
        _check(conn, "search")
        entry: ldap3.Entry = conn.entries[0]
        return entry

    def membership(self, group: GroupRef, account: AccountRef) -> Membership:
        def run(conn: ldap3.Connection) -> Membership:
            user = self._find_account(conn, account)
            dn = str(user.entry_dn)
            found = self._group_entry(conn, group)
            group_dn = str(found.entry_dn)
            # A base search on the group with an equality filter on member: the server compares DNs properly.
            conn.search(
                group_dn, f"(member={escape_filter_chars(dn)})", ldap3.BASE, attributes=["objectGUID"]
            )
            _check(conn, "search")
            direct = len(conn.entries) == 1
            conn.search(
                dn,
                f"(memberOf:{_IN_CHAIN}:={escape_filter_chars(group_dn)})",
                ldap3.BASE,
                attributes=["objectGUID"],
            )
            _check(conn, "search")
            nested = len(conn.entries) == 1
            primary = _flags(user["primaryGroupID"].value) == _rid(_sid_bytes(found))
            return Membership(direct=direct, nested=nested, primary=primary)

        return self._call(run)

    def list_members(self, group: GroupRef) -> frozenset[AccountRef]:
        def run(conn: ldap3.Connection) -> frozenset[AccountRef]:
            conn.search(group.dn, "(objectClass=group)", ldap3.BASE, attributes=["objectGUID"])
            if conn.result.get("result") == _NO_SUCH_OBJECT or not conn.entries:
                raise GroupNotFound(group)
            # Ask for the members' names directly (also avoids AD's range retrieval on large `member` values).
            entries = conn.extend.standard.paged_search(
                self.config.base_dn,
                f"(memberOf={escape_filter_chars(str(conn.entries[0].entry_dn))})",
                ldap3.SUBTREE,
                attributes=["sAMAccountName"],
                paged_size=self.config.page_size,
                generator=False,
            )
            _check(conn, "search")
            return frozenset(
                AccountRef(str(_first(e["attributes"]["sAMAccountName"])))
                for e in entries
                if e.get("type") == "searchResEntry" and e["attributes"].get("sAMAccountName")
            )

        return self._call(run)

    def members(self, group: GroupRef) -> frozenset[Member]:
        def run(conn: ldap3.Connection) -> frozenset[Member]:
            found = self._group_entry(conn, group)
            conn.search(str(found.entry_dn), "(objectClass=group)", ldap3.BASE, attributes=["member"])
            _check(conn, "search")
            member_dns = [str(dn) for dn in (conn.entries[0]["member"].values if conn.entries else [])]
            out: dict[bytes, Member] = {}
            for dn in member_dns:
                # One base search per member: whatever its class or container (foreign security principals
                # live outside the users' subtree), every member is seen and none can abort the listing.
                conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=_MEMBER_ATTRIBUTES)
                if conn.result.get("result") == _NO_SUCH_OBJECT or not conn.entries:
                    continue  # a dangling link the server no longer resolves grants nothing
                _check(conn, "search")
                member = _member(conn.entries[0])
                out[member.object_guid] = member
            rid = _rid(_sid_bytes(found))
            entries = conn.extend.standard.paged_search(
                self.config.base_dn,
                f"(primaryGroupID={rid})",
                ldap3.SUBTREE,
                attributes=_MEMBER_ATTRIBUTES,
                paged_size=self.config.page_size,
                generator=False,
            )
            _check(conn, "search")
            for item in entries:
                if item.get("type") == "searchResEntry":
                    member = _member_from_response(item, primary=True)
                    out[member.object_guid] = member  # one entry per object, primary if it is both
            return frozenset(out.values())

        return self._call(run)

    def _modify_member(
        self, conn: ldap3.Connection, group_dn: str, dn: str, change: str, done: set[int]
    ) -> None:
        conn.modify(group_dn, {"member": [(change, [dn])]})
        code = conn.result.get("result")
        if code in done:
            return  # the desired state already holds (read back by the caller before anything is claimed)
        if code == _NO_SUCH_OBJECT:
            raise GroupNotFound(GroupRef(group_dn))
        _check(conn, "membership change")

    def add_member(self, group: GroupRef, account: AccountRef) -> None:
        def run(conn: ldap3.Connection) -> None:
            dn = self._account_dn(conn, account)
            # AD answers 68 entryAlreadyExists to a second add; RFC servers 20 attributeOrValueExists.
            self._modify_member(
                conn,
                group.dn,
                dn,
                ldap3.MODIFY_ADD,
                {_SUCCESS, _ENTRY_ALREADY_EXISTS, _ATTRIBUTE_OR_VALUE_EXISTS},
            )

        self._call(run)

    def _leave(self, conn: ldap3.Connection, group: ldap3.Entry, dn: str, primary_group_id: int) -> None:
        """Out of ``group`` for good: primary group reset to Domain Users first (AD refuses to remove the
        primary group's membership and keeps its SID in the token), then the member link deleted."""
        sid = _sid_bytes(group)
        if primary_group_id == _rid(sid):
            users = self._group_by_sid(conn, sid[:-4] + _DOMAIN_USERS_RID.to_bytes(4, "little"))
            # AD only accepts a primary group the account is a member of.
            self._modify_member(
                conn,
                users,
                dn,
                ldap3.MODIFY_ADD,
                {_SUCCESS, _ENTRY_ALREADY_EXISTS, _ATTRIBUTE_OR_VALUE_EXISTS},
            )
            conn.modify(dn, {"primaryGroupID": [(ldap3.MODIFY_REPLACE, [str(_DOMAIN_USERS_RID)])]})
            _check(conn, "primary group reset")
        # AD answers 53 unwillingToPerform to removing a non-member; RFC servers 16 noSuchAttribute.
        self._modify_member(
            conn,
            str(group.entry_dn),
            dn,
            ldap3.MODIFY_DELETE,
            {_SUCCESS, _UNWILLING_TO_PERFORM, _NO_SUCH_ATTRIBUTE},
        )

    def _group_by_sid(self, conn: ldap3.Connection, sid: bytes) -> str:
        conn.search(
            self.config.base_dn, f"(objectSid={escape_bytes(sid)})", ldap3.SUBTREE, attributes=["objectGUID"]
        )
        _check(conn, "search")
        if len(conn.entries) != 1:
            raise DirectoryError("the domain's Domain Users group was not found")
        return str(conn.entries[0].entry_dn)

    def remove_member(self, group: GroupRef, account: AccountRef) -> None:
        def run(conn: ldap3.Connection) -> None:
            user = self._find_account(conn, account)
            found = self._group_entry(conn, group)
            self._leave(conn, found, str(user.entry_dn), _flags(user["primaryGroupID"].value))

        self._call(run)

    def remove_object(self, group: GroupRef, member: Member) -> None:
        def run(conn: ldap3.Connection) -> None:
            found = self._group_entry(conn, group)
            conn.search(member.dn, "(objectClass=*)", ldap3.BASE, attributes=["primaryGroupID"])
            _check(conn, "search")
            primary = _flags(conn.entries[0]["primaryGroupID"].value) if conn.entries else 0
            self._leave(conn, found, member.dn, primary)

        self._call(run)

    def reset_password(self, account: AccountRef, new_password: str, must_change: bool = False) -> bool:
        """Set the password; True when the DC applied its own password policy (history, minimum age) to it.

        An administrative ``unicodePwd`` reset skips AD's history and age rules unless the LDAP policy-hints
        control is sent. It is sent (critical) on every reset; a DC that does not know it (Samba answers
        unavailableCriticalExtension) gets a plain reset, and False tells the caller to keep history itself.
        """
        if self._policy is not None:
            self._policy.check(account, new_password)

        def run(conn: ldap3.Connection) -> bool:
            dn = self._account_dn(conn, account)
            # Not extend.microsoft.modify_password: pwdLastSet must go in the same modify, atomically.
            changes: dict[str, list[tuple[str, list[Any]]]] = {
                "unicodePwd": [(ldap3.MODIFY_REPLACE, [_encode_password(new_password)])]
            }
            if must_change:
                changes["pwdLastSet"] = [(ldap3.MODIFY_REPLACE, ["0"])]
            if self._policy_hints is not False:
                conn.modify(dn, changes, controls=[(_POLICY_HINTS_OID, True, _POLICY_HINTS_ON)])
                if conn.result.get("result") != _UNAVAILABLE_CRITICAL_EXTENSION:
                    _check(conn, "password reset", account=account)
                    self._policy_hints = True
                    return True
                self._policy_hints = False  # remembered: this DC applies no policy to resets
            conn.modify(dn, changes)
            _check(conn, "password reset", account=account)
            return False

        return self._call(run)

    @property
    def applies_password_policy(self) -> bool | None:
        """Whether the DC enforces its history and age rules on resets (None until the first reset)."""
        return self._policy_hints

    # --- ManagedDirectory (tests, demos, devnet) ------------------------------------------------------------

    def create_user(self, sam_account_name: str, password: str, *, enabled: bool = True) -> Account:
        ref = AccountRef(sam_account_name)
        dn = f"CN={escape_rdn(sam_account_name)},{self.config.container}"
        uac = _UF_NORMAL_ACCOUNT | (0 if enabled else _UF_ACCOUNTDISABLE)

        def run(conn: ldap3.Connection) -> Account:
            conn.add(
                dn,
                ["top", "person", "organizationalPerson", "user"],
                {
                    "sAMAccountName": sam_account_name,
                    "unicodePwd": _encode_password(password),
                    "userAccountControl": str(uac),
                },
            )
            if conn.result.get("result") == _ENTRY_ALREADY_EXISTS:
                raise AlreadyExists(sam_account_name)
            _check(conn, "create user", account=ref)
            return _to_account(self._find_account(conn, ref))

        return self._call(run)

    def create_group(self, name: str) -> Group:
        dn = f"CN={escape_rdn(name)},{self.config.container}"

        def run(conn: ldap3.Connection) -> Group:
            conn.add(
                dn,
                ["top", "group"],
                {"sAMAccountName": group_account_name(name), "groupType": str(_GLOBAL_SECURITY_GROUP)},
            )
            if conn.result.get("result") == _ENTRY_ALREADY_EXISTS:
                raise AlreadyExists(name)
            _check(conn, "create group")
            conn.search(dn, "(objectClass=group)", ldap3.BASE, attributes=["sAMAccountName", "objectGUID"])
            _check(conn, "search")
            entry = conn.entries[0]
            return Group(str(entry.entry_dn), str(entry.sAMAccountName.value), _guid_bytes(entry.objectGUID))

        return self._call(run)

    def delete(self, dn: str) -> None:
        def run(conn: ldap3.Connection) -> None:
            conn.delete(safe_dn(dn))
            if conn.result.get("result") == _NO_SUCH_OBJECT:
                raise LookupError(f"no such object: {dn}")
            _check(conn, "delete")

        self._call(run)

    def authenticate(self, account: AccountRef, password: str) -> None:
        # An empty password makes a simple bind anonymous, and an anonymous bind "succeeds".
        if not password:
            raise AuthenticationFailed(account, AuthenticationFailed.INVALID_CREDENTIALS)
        dn = self._call(lambda conn: self._account_dn(conn, account))
        conn = self._open(dn, password)
        try:
            if conn.bound:
                return
            code = conn.result.get("result")
            if code in _TRANSIENT:
                raise DirectoryUnavailable(f"bind: {conn.result.get('description')}")
            if code != _INVALID_CREDENTIALS:
                raise DirectoryError(f"bind as {account.sam_account_name}: {conn.result.get('description')}")
            match = _BIND_DATA_RE.search(str(conn.result.get("message", "")))
            reason = _BIND_DATA.get(
                match.group(1).lower() if match else "", AuthenticationFailed.INVALID_CREDENTIALS
            )
            raise AuthenticationFailed(account, reason)
        finally:
            _close_quietly(conn)

    def create_ou(self, name: str) -> str:
        """Create an organizational unit under the base DN (a leavers OU, say); returns its DN."""
        dn = f"OU={escape_rdn(name)},{self.config.base_dn}"

        def run(conn: ldap3.Connection) -> str:
            conn.add(dn, ["top", "organizationalUnit"])
            if conn.result.get("result") == _ENTRY_ALREADY_EXISTS:
                raise AlreadyExists(name)
            _check(conn, "create OU")
            return dn

        return self._call(run)

    def set_enabled(self, account: AccountRef, enabled: bool) -> None:
        """Enable or disable the account (userAccountControl's ACCOUNTDISABLE), as an admin or HR feed does."""

        def run(conn: ldap3.Connection) -> None:
            entry = self._find_account(conn, account)
            uac = _flags(entry.entry_attributes_as_dict.get("userAccountControl"))
            uac = uac & ~_UF_ACCOUNTDISABLE if enabled else uac | _UF_ACCOUNTDISABLE
            conn.modify(str(entry.entry_dn), {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(uac)])]})
            _check(conn, "userAccountControl change", account=account)

        self._call(run)

    def move(self, account: AccountRef, container_dn: str) -> str:
        """Move the account under ``container_dn`` (its objectGUID stays); returns its new DN."""

        def run(conn: ldap3.Connection) -> str:
            dn = self._account_dn(conn, account)
            rdn = to_dn(dn)[0]  # escapes kept: an escaped comma stays inside the RDN
            conn.modify_dn(dn, rdn, new_superior=container_dn)
            _check(conn, "move", account=account)
            return f"{rdn},{container_dn}"

        return self._call(run)

    # --- what a grantee (or an intruder) can do behind the oracle's back, for tests ------------------------

    def set_primary_group(self, account: AccountRef, group: GroupRef) -> None:
        """Make ``group`` the account's primary group (AD requires a direct membership first)."""

        def run(conn: ldap3.Connection) -> None:
            dn = self._account_dn(conn, account)
            rid = _rid(_sid_bytes(self._group_entry(conn, group)))
            conn.modify(dn, {"primaryGroupID": [(ldap3.MODIFY_REPLACE, [str(rid)])]})
            _check(conn, "primary group change", account=account)

        self._call(run)

    def add_group_member(self, group: GroupRef, child: GroupRef) -> None:
        """Nest ``child`` in ``group``."""

        def run(conn: ldap3.Connection) -> None:
            child_dn = str(self._group_entry(conn, child).entry_dn)
            self._modify_member(
                conn,
                group.dn,
                child_dn,
                ldap3.MODIFY_ADD,
                {_SUCCESS, _ENTRY_ALREADY_EXISTS, _ATTRIBUTE_OR_VALUE_EXISTS},
            )

        self._call(run)

    def add_dn_member(self, group: GroupRef, dn: str) -> None:
        """Put any object (a computer, a foreign security principal) in ``group`` by DN."""
        self._call(
            lambda conn: self._modify_member(
                conn,
                group.dn,
                dn,
                ldap3.MODIFY_ADD,
                {_SUCCESS, _ENTRY_ALREADY_EXISTS, _ATTRIBUTE_OR_VALUE_EXISTS},
            )
        )


# --- helpers ------------------------------------------------------------------------------------------------


def _sid_bytes(entry: ldap3.Entry) -> bytes:
    return bytes(entry["objectSid"].raw_values[0])


def _rid(sid: bytes) -> int:
    """The relative id: the last sub-authority of a binary SID."""
    return int.from_bytes(sid[-4:], "little")


_KINDS = (
    ("foreignSecurityPrincipal", "foreign"),
    ("computer", "computer"),
    ("group", "group"),
    ("user", "user"),
)


def _kind(classes: Sequence[str]) -> str:
    lowered = {str(c).casefold() for c in classes}
    return next((kind for cls, kind in _KINDS if cls.casefold() in lowered), "other")


def _member(entry: ldap3.Entry) -> Member:
    sam = entry["sAMAccountName"].value if "sAMAccountName" in entry.entry_attributes else None
    return Member(
        dn=str(entry.entry_dn),
        object_guid=_guid_bytes(entry.objectGUID),
        kind=_kind(entry["objectClass"].values),
        sam_account_name=str(sam) if sam else None,
    )


def _member_from_response(item: Mapping[str, Any], *, primary: bool = False) -> Member:
    attrs, raw = item["attributes"], item["raw_attributes"]
    sam = _first(attrs.get("sAMAccountName"))
    return Member(
        dn=item["dn"],
        object_guid=bytes(raw["objectGUID"][0]),
        kind=_kind(attrs.get("objectClass") or []),
        sam_account_name=str(sam) if sam else None,
        primary=primary,
    )


def _encode_password(password: str) -> bytes:
    # AD's unicodePwd: the password in double quotes, UTF-16-LE.
    return f'"{password}"'.encode("utf-16-le")


def _close_quietly(conn: ldap3.Connection) -> None:
    with contextlib.suppress(Exception):
        conn.unbind()


def _check(conn: ldap3.Connection, what: str, *, account: AccountRef | None = None) -> None:
    """Raise the directory error matching conn.result (AD's diagnostic text never carries a password)."""
    result = conn.result or {}
    code = result.get("result", _SUCCESS)
    if code == _SUCCESS:
        return
    description = result.get("description", "")
    if code == _CONSTRAINT_VIOLATION and account is not None and what in ("password reset", "create user"):
        raise PasswordRejected(account, [f"refused by the directory's password policy ({_ad_code(result)})"])
    if code == _NO_SUCH_OBJECT and account is not None:
        raise AccountNotFound(account)
    if code in _TRANSIENT:
        raise DirectoryUnavailable(f"{what}: {description}")
    if code in (_INSUFFICIENT_ACCESS, _STRONGER_AUTH_REQUIRED):
        raise AccessDenied(f"{what}: {description} ({_ad_code(result)})")
    raise DirectoryError(f"{what} failed: {description} (result {code}, {_ad_code(result)})")


def _ad_code(result: Mapping[str, Any]) -> str:
    """AD's 8-hex-digit WERROR at the start of its diagnostic message (e.g. 0000052D), without the rest."""
    match = re.match(r"\s*([0-9A-Fa-f]{8})", str(result.get("message", "")))
    return f"AD code {match.group(1).upper()}" if match else "no AD code"


def _translate(exc: Exception, host: str) -> DirectoryError:
    """An ldap3 exception raised before or outside an LDAP result, as a directory error."""
    if _is_certificate_failure(exc):
        if "doesn't match" in str(exc):
            # ldap3's own message embeds the whole peer certificate: say what matters instead.
            return TlsVerificationFailed(f"TLS certificate of {host} does not match the expected names")
        return TlsVerificationFailed(f"TLS certificate of {host} not trusted: {_short(exc)}")
    if isinstance(exc, ldap_exc.LDAPPasswordIsMandatoryError):
        return AccessDenied("a password is mandatory for a simple bind")
    return DirectoryUnavailable(f"LDAP server {host} unreachable: {_short(exc)}")


def _is_certificate_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(
            seen, ssl.SSLCertVerificationError | ldap_exc.LDAPCertificateError | ssl.CertificateError
        ):
            return True
        text = str(seen)
        if "CERTIFICATE_VERIFY_FAILED" in text or "doesn't match" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _short(exc: BaseException) -> str:
    text = str(exc)
    # ldap3's hostname failure message includes the whole peer certificate: keep it readable.
    return text if len(text) <= 300 else text[:300] + "..."


def _first(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _guid_bytes(attribute: Any) -> bytes:
    raw = attribute.raw_values[0] if hasattr(attribute, "raw_values") else attribute
    return bytes(raw)


def _flags(value: Any) -> int:
    value = _first(value)
    return int(value) if value not in (None, "", []) else 0


def _make_account(dn: str, attrs: Mapping[str, Any], raw: Mapping[str, Sequence[bytes]]) -> Account:
    uac = _flags(attrs.get("userAccountControl"))
    computed = attrs.get("msDS-User-Account-Control-Computed")
    if computed not in (None, [], ""):
        # AD computes this bit with the lockout duration applied; lockoutTime stays set after expiry.
        locked = bool(_flags(computed) & _UF_LOCKOUT)
    else:
        lockout = _first(attrs.get("lockoutTime"))
        locked = bool(lockout) and getattr(lockout, "year", 1601) > 1601 if lockout is not None else False
    pwd_last_set = _first(raw.get("pwdLastSet") or [b""])
    lockout_raw = _first(raw.get("lockoutTime") or [b"0"])
    return Account(
        dn=dn,
        sam_account_name=str(_first(attrs["sAMAccountName"])),
        object_guid=bytes(raw["objectGUID"][0]),
        locked=locked,
        enabled=not uac & _UF_ACCOUNTDISABLE,
        must_change_password=pwd_last_set == b"0",
        primary_group_id=_flags(attrs.get("primaryGroupID")) or 513,
        lockout_time=int(lockout_raw or b"0"),
        password_last_set=int(pwd_last_set or b"0"),
    )


def _to_account(entry: ldap3.Entry) -> Account:
    attrs = entry.entry_attributes_as_dict
    raw = {name: entry[name].raw_values for name in entry.entry_attributes}
    return _make_account(str(entry.entry_dn), attrs, raw)


def _to_account_from_response(item: Mapping[str, Any]) -> Account:
    return _make_account(item["dn"], item["attributes"], item["raw_attributes"])


__all__ = ["LdapConfig", "LdapDirectory"]
