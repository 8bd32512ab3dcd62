"""MemoryDirectory: AD semantics for lockout, membership and passwords; thread safety; a model comparison."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pamchain.sdk.directory import (
    AccountNotFound,
    AccountRef,
    AlreadyExists,
    AuthenticationFailed,
    ChainedResolver,
    Directory,
    DirectoryIdNotFound,
    GroupNotFound,
    GroupRef,
    HmacGuidResolver,
    ManagedDirectory,
    PasswordRejected,
    StaticIdMap,
    pseudonymous_id,
)
from pamchain.sdk.directory.memory import MemoryDirectory

PASSWORD = "Quiet-Lantern-Orbit-58"
OTHER = "Brisk-Harbor-Velvet-73"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def directory(clock: Clock) -> MemoryDirectory:
    return MemoryDirectory(clock=clock)


@pytest.fixture
def alice(directory: MemoryDirectory) -> AccountRef:
    return directory.create_user("alice", PASSWORD).ref


@pytest.fixture
def admins(directory: MemoryDirectory) -> GroupRef:
    return directory.create_group("Domain Admins").ref


def test_implements_the_protocols(directory: MemoryDirectory) -> None:
    assert isinstance(directory, Directory)
    assert isinstance(directory, ManagedDirectory)


def test_three_bad_passwords__locked__right_one_refused__unlock(directory: MemoryDirectory, alice) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed) as bad:
            directory.authenticate(alice, OTHER)
        assert bad.value.reason == AuthenticationFailed.INVALID_CREDENTIALS
    assert directory.is_locked(alice)
    with pytest.raises(AuthenticationFailed) as locked:
        directory.authenticate(alice, PASSWORD)
    assert locked.value.reason == AuthenticationFailed.ACCOUNT_LOCKED

    directory.unlock(alice)

    assert not directory.is_locked(alice)
    directory.authenticate(alice, PASSWORD)


def test_good_bind__resets_bad_count(directory: MemoryDirectory, alice) -> None:
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            directory.authenticate(alice, OTHER)
    directory.authenticate(alice, PASSWORD)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            directory.authenticate(alice, OTHER)
    assert not directory.is_locked(alice)


def test_lockout_expires_after_duration(directory: MemoryDirectory, alice, clock: Clock) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            directory.authenticate(alice, OTHER)
    clock.now += 30 * 60
    assert not directory.is_locked(alice)
    directory.authenticate(alice, PASSWORD)


def test_unknown_user__like_a_wrong_password(directory: MemoryDirectory) -> None:
    with pytest.raises(AuthenticationFailed) as failed:
        directory.authenticate(AccountRef("nobody"), PASSWORD)
    assert failed.value.reason == AuthenticationFailed.INVALID_CREDENTIALS


def test_disabled_user(directory: MemoryDirectory) -> None:
    bob = directory.create_user("bob", PASSWORD, enabled=False).ref
    assert not directory.account(bob).enabled
    with pytest.raises(AuthenticationFailed) as failed:
        directory.authenticate(bob, PASSWORD)
    assert failed.value.reason == AuthenticationFailed.ACCOUNT_DISABLED


def test_membership__idempotent(directory: MemoryDirectory, alice, admins) -> None:
    directory.add_member(admins, alice)
    directory.add_member(admins, alice)
    assert directory.is_member(admins, alice)
    assert directory.list_members(admins) == {alice}
    directory.remove_member(admins, alice)
    directory.remove_member(admins, alice)
    assert not directory.is_member(admins, alice)
    assert directory.list_members(admins) == frozenset()


def test_refs__case_insensitive(directory: MemoryDirectory, alice, admins) -> None:
    directory.add_member(GroupRef(admins.dn.upper().replace(",", " , ")), AccountRef("ALICE"))
    assert directory.is_member(admins, alice)
    assert directory.list_members(admins) == {AccountRef("Alice")}


def test_unknown_account_or_group(directory: MemoryDirectory, alice, admins) -> None:
    with pytest.raises(AccountNotFound):
        directory.add_member(admins, AccountRef("ghost"))
    with pytest.raises(AccountNotFound):
        directory.unlock(AccountRef("ghost"))
    with pytest.raises(GroupNotFound):
        directory.add_member(GroupRef("CN=none,DC=pamchain,DC=test"), alice)
    with pytest.raises(GroupNotFound):
        directory.list_members(GroupRef("CN=none,DC=pamchain,DC=test"))


def test_create__duplicates_refused(directory: MemoryDirectory, alice, admins) -> None:
    with pytest.raises(AlreadyExists):
        directory.create_user("ALICE", PASSWORD)
    with pytest.raises(AlreadyExists):
        directory.create_group("domain admins")


def test_reset_password__new_works_old_fails(directory: MemoryDirectory, alice) -> None:
    directory.reset_password(alice, OTHER)
    directory.authenticate(alice, OTHER)
    with pytest.raises(AuthenticationFailed):
        directory.authenticate(alice, PASSWORD)


def test_reset_password__does_not_unlock(directory: MemoryDirectory, alice) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            directory.authenticate(alice, OTHER)
    directory.reset_password(alice, OTHER)
    assert directory.is_locked(alice)


def test_reset_password__must_change(directory: MemoryDirectory, alice) -> None:
    directory.reset_password(alice, OTHER, must_change=True)
    assert directory.account(alice).must_change_password
    with pytest.raises(AuthenticationFailed) as failed:
        directory.authenticate(alice, OTHER)
    assert failed.value.reason == AuthenticationFailed.MUST_CHANGE_PASSWORD


@pytest.mark.parametrize("weak", ["short1A!", "alllowercaseletters", "Password123!", "xx-Alice-Lantern-58"])
def test_reset_password__weak__rejected_without_echo(directory: MemoryDirectory, alice, weak: str) -> None:
    with pytest.raises(PasswordRejected) as rejected:
        directory.reset_password(alice, weak)
    assert rejected.value.reasons
    assert weak not in str(rejected.value) and weak not in repr(rejected.value)
    directory.authenticate(alice, PASSWORD)  # unchanged


def test_repr__no_password(directory: MemoryDirectory, alice) -> None:
    assert PASSWORD not in repr(directory)
    assert PASSWORD not in repr(directory._users)


def test_resolve__static_table_then_hmac(clock: Clock) -> None:
    key = bytes(range(32))
    table_id = b"\x11" * 32
    directory = MemoryDirectory(
        resolver=ChainedResolver(StaticIdMap.from_hex({"0x" + table_id.hex(): "bob"}), HmacGuidResolver(key))
    )
    alice = directory.create_user("alice", PASSWORD)
    assert directory.resolve(table_id) == AccountRef("bob")
    assert directory.resolve(pseudonymous_id(key, alice.object_guid)) == alice.ref
    with pytest.raises(DirectoryIdNotFound):
        directory.resolve(b"\x22" * 32)
    with pytest.raises(ValueError):
        directory.resolve(b"short")


def test_hmac_resolver__refresh_is_rate_limited(clock: Clock) -> None:
    key = b"k" * 32
    resolver = HmacGuidResolver(key, min_refresh=30, clock=clock)
    directory = MemoryDirectory(resolver=resolver, clock=clock)
    with pytest.raises(DirectoryIdNotFound):
        directory.resolve(b"\x00" * 32)  # loads the (empty) map
    carol = directory.create_user("carol", PASSWORD)
    carol_id = pseudonymous_id(key, carol.object_guid)
    with pytest.raises(DirectoryIdNotFound):
        directory.resolve(carol_id)  # within min_refresh: no second scan
    clock.now += 30
    assert directory.resolve(carol_id) == carol.ref
    assert key.hex() not in repr(resolver)


def test_pseudonymous_id__is_hmac_sha256() -> None:
    import hashlib
    import hmac

    key, guid = b"K" * 32, bytes(range(16))
    assert pseudonymous_id(key, guid) == hmac.new(key, guid, hashlib.sha256).digest()
    assert len(pseudonymous_id(key, guid)) == 32
    with pytest.raises(ValueError):
        pseudonymous_id(key, b"too short")
    with pytest.raises(ValueError):
        pseudonymous_id(b"weak", guid)


def test_static_map__groups() -> None:
    target = b"\x07" * 32
    ids = StaticIdMap.from_hex(groups={target.hex(): "CN=Domain Admins,CN=Users,DC=pamchain,DC=test"})
    assert ids.group_for(target) == GroupRef("cn=domain admins,cn=users,dc=pamchain,dc=test")
    with pytest.raises(LookupError):
        ids.group_for(b"\x08" * 32)


def test_delete__removes_from_groups(directory: MemoryDirectory, alice, admins) -> None:
    directory.add_member(admins, alice)
    directory.delete(directory.account(alice).dn)
    assert directory.list_members(admins) == frozenset()
    with pytest.raises(AccountNotFound):
        directory.account(alice)


def test_thread_safety__concurrent_membership(directory: MemoryDirectory, admins) -> None:
    users = [directory.create_user(f"user{i}", PASSWORD).ref for i in range(40)]
    barrier = threading.Barrier(8)

    def work(chunk: list[AccountRef]) -> None:
        barrier.wait()
        for _ in range(50):
            for user in chunk:
                directory.add_member(admins, user)
                directory.remove_member(admins, user)
                directory.add_member(admins, user)

    threads = [threading.Thread(target=work, args=(users[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert directory.list_members(admins) == set(users)


def test_thread_safety__concurrent_bad_binds_lock_exactly(directory: MemoryDirectory, alice) -> None:
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            directory.authenticate(alice, OTHER)
        except AuthenticationFailed as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(AuthenticationFailed.INVALID_CREDENTIALS) == 3
    assert outcomes.count(AuthenticationFailed.ACCOUNT_LOCKED) == 3


# --- properties ---------------------------------------------------------------------------------------------

ops = st.lists(st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 3)), max_size=30)


@given(ops)
def test_membership_is_last_write_wins(sequence: list[tuple[str, int]]) -> None:
    """Any sequence of adds/removes, each possibly repeated, leaves exactly what the last op per user said."""
    directory = MemoryDirectory()
    group = directory.create_group("g").ref
    users = [directory.create_user(f"u{i}", PASSWORD).ref for i in range(4)]
    last: dict[int, str] = {}
    for op, i in sequence:
        for _ in range(2):  # every operation applied twice: idempotence
            (directory.add_member if op == "add" else directory.remove_member)(group, users[i])
        last[i] = op
    assert directory.list_members(group) == {users[i] for i, op in last.items() if op == "add"}


class DirectoryModel(RuleBasedStateMachine):
    """The in-memory directory against a plain model: sets for membership, counters for lockout."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = MemoryDirectory()
        self.groups = [self.directory.create_group(f"g{i}").ref for i in range(2)]
        self.users = [self.directory.create_user(f"u{i}", PASSWORD).ref for i in range(3)]
        self.members: dict[GroupRef, set[AccountRef]] = {g: set() for g in self.groups}
        self.bad: dict[AccountRef, int] = dict.fromkeys(self.users, 0)
        self.locked: dict[AccountRef, bool] = dict.fromkeys(self.users, False)

    @rule(g=st.integers(0, 1), u=st.integers(0, 2))
    def add(self, g: int, u: int) -> None:
        self.directory.add_member(self.groups[g], self.users[u])
        self.members[self.groups[g]].add(self.users[u])

    @rule(g=st.integers(0, 1), u=st.integers(0, 2))
    def remove(self, g: int, u: int) -> None:
        self.directory.remove_member(self.groups[g], self.users[u])
        self.members[self.groups[g]].discard(self.users[u])

    @rule(u=st.integers(0, 2), right=st.booleans())
    def bind(self, u: int, right: bool) -> None:
        user = self.users[u]
        try:
            self.directory.authenticate(user, PASSWORD if right else OTHER)
            outcome = "ok"
        except AuthenticationFailed as exc:
            outcome = exc.reason
        if self.locked[user]:
            assert outcome == AuthenticationFailed.ACCOUNT_LOCKED
        elif right:
            assert outcome == "ok"
            self.bad[user] = 0
        else:
            assert outcome == AuthenticationFailed.INVALID_CREDENTIALS
            self.bad[user] += 1
            self.locked[user] = self.bad[user] >= 3

    @precondition(lambda self: any(self.locked.values()))
    @rule(u=st.integers(0, 2))
    def unlock(self, u: int) -> None:
        self.directory.unlock(self.users[u])
        self.locked[self.users[u]] = False
        self.bad[self.users[u]] = 0

    @invariant()
    def agrees(self) -> None:
        for group in self.groups:
            assert self.directory.list_members(group) == self.members[group]
            for user in self.users:
                assert self.directory.is_member(group, user) == (user in self.members[group])
        for user in self.users:
            assert self.directory.is_locked(user) == self.locked[user]


TestDirectoryModel = DirectoryModel.TestCase
