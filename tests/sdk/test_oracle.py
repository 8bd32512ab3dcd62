"""The oracle daemon end to end on the real bytecode (eth-tester) and the in-memory directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.sdk.chain.events import GenericEvent, ReceiptPosted
from pamchain.sdk.chain.model import Action, Outcome, Status
from pamchain.sdk.directory import (
    AccountRef,
    AuthenticationFailed,
    DirectoryUnavailable,
    GroupRef,
    StaticIdMap,
    pseudonymous_id,
)
from pamchain.sdk.directory.memory import MemoryDirectory
from pamchain.sdk.oracle.assembly import assemble
from pamchain.sdk.oracle.daemon import OracleDaemon
from pamchain.sdk.oracle.executor import Retry
from pamchain.sdk.oracle.follower import Finality
from pamchain.sdk.payloads.sealed import public_key, seal_password
from pamchain.sdk.payloads.store import ChainAuthorizer, PayloadClient, PayloadStore, ServedStore
from web3 import Web3

from support.world import ADMINS, DOMAIN, Cast, directory_id

DC1 = b"DC1".ljust(32, b"\x00")
PSEUDONYM_KEY = b"k" * 32
ADMINS_DN = "CN=Domain Admins,CN=Users,DC=pamchain,DC=test"
GOOD_PASSWORD = "Tr1cky-Blue-Harbour!"
NEW_PASSWORD = "Quiet-Orange-Lantern-27"


class ChainClock:
    """The oracle's clock pinned to the chain's time, so tests can move both together."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.offset = 0.0

    def __call__(self) -> float:
        return float(self.w3.eth.get_block("latest")["timestamp"]) + self.offset

    def travel(self, seconds: int) -> None:
        tester = self.w3.provider.ethereum_tester  # type: ignore[attr-defined]
        tester.time_travel(int(self.w3.eth.get_block("latest")["timestamp"]) + seconds)
        tester.mine_blocks(1)


class FlakyDirectory(MemoryDirectory):
    """Fails ``failures`` times with a transient error before each operation works."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def unlock(self, account: AccountRef) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise DirectoryUnavailable("simulated outage")
        super().unlock(account)


def build(
    cast: Cast, tmp_path: Path, directory: MemoryDirectory, **options: object
) -> tuple[OracleDaemon, ChainClock]:
    if not any(True for _ in directory.accounts()):
        for name in ("alice", "bob", "carol", "mallory"):
            directory.create_user(name, GOOD_PASSWORD)
        directory.create_group("Domain Admins")
    id_map = StaticIdMap.from_hex(
        {"0x" + directory_id(n).hex(): n for n in ("alice", "bob", "carol")}, {"0x" + ADMINS.hex(): ADMINS_DN}
    )
    clock = ChainClock(cast.w3)
    settings: dict[str, object] = {
        "finality": Finality(confirmations=0),
        "retry": Retry(max_attempts=3, base=0.0, cap=0.0),
        "reconcile_interval": 0,
        **options,
    }
    oracle = settings.pop("oracle", cast.oracle)
    assert isinstance(oracle, LocalAccount)
    tmp_path.mkdir(parents=True, exist_ok=True)
    daemon = assemble(
        cast.as_(oracle),
        oracle,
        directory,
        tmp_path / "journal.sqlite3",
        domain=DOMAIN,
        dc_id=DC1,
        id_map=id_map,
        start_block=cast.deployment_block,
        clock=clock,
        **settings,  # type: ignore[arg-type]
    )
    return daemon, clock


def lock_out(directory: MemoryDirectory, name: str) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            directory.authenticate(AccountRef(name), "wrong password")
    assert directory.is_locked(AccountRef(name))


def test_unlock__request_applied_and_receipt_posted(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    lock_out(directory, "alice")
    rid = cast.as_(cast.alice).request_unlock()
    tick = daemon.run_once()
    assert (tick.journalled, tick.applied, tick.reported) == (1, 1, 1)
    assert not directory.is_locked(AccountRef("alice"))
    directory.authenticate(AccountRef("alice"), GOOD_PASSWORD)
    receipt = cast.client.receipt(rid, Action.UNLOCK)
    assert receipt is not None and receipt.outcome is Outcome.APPLIED and receipt.dc_id == DC1
    assert cast.client.status(rid) is Status.FULFILLED
    assert daemon.run_once().reported == 0  # nothing is done twice


def test_unlock__principal_suspended_before_oracle_acts__failed_and_still_locked(
    cast: Cast, tmp_path: Path
) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    lock_out(directory, "alice")
    rid = cast.as_(cast.alice).request_unlock()  # self-service: APPROVED at once
    cast.as_(cast.council[0]).suspend(directory_id("alice"))
    daemon.run_once()
    assert directory.is_locked(AccountRef("alice"))
    receipt = cast.client.receipt(rid, Action.UNLOCK)
    assert receipt is not None and receipt.outcome is Outcome.FAILED


def test_receipt_refused__oracle_removed__deferred_without_blocking(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    c1, c2 = cast.as_(cast.council[0]), cast.as_(cast.council[1])
    proposal = c1.propose("remove_oracle", DOMAIN, cast.oracle.address)
    c2.approve_proposal(
        next(
            e.args["proposal_id"]
            for e in proposal.events
            if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
        )
    )
    first, second = cast.as_(cast.alice).request_unlock(), cast.as_(cast.bob).request_unlock()
    tick = (
        daemon.run_once()
    )  # AD is changed; both receipts are refused: this oracle no longer serves the domain
    assert (tick.applied, tick.reported) == (2, 0)
    assert daemon.journal.count("applied") == 2 and daemon.journal.due("applied", daemon.clock()) == []
    assert (
        cast.client.receipt(first, Action.UNLOCK) is None
        and cast.client.receipt(second, Action.UNLOCK) is None
    )


def test_elevation__member_added_then_removed_at_expiry_without_end_call(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, clock = build(cast, tmp_path, directory)
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 120, "maintenance")
    cast.as_(cast.bob).approve(rid)
    cast.as_(cast.carol).approve(rid)
    daemon.run_once()
    admins = GroupRef(ADMINS_DN)
    assert directory.is_member(admins, AccountRef("alice"))
    assert cast.client.receipt(rid, Action.ADD_MEMBER) is not None
    clock.travel(121)
    tick = daemon.run_once()
    assert tick.expired == 1
    assert not directory.is_member(admins, AccountRef("alice"))
    removal = cast.client.receipt(rid, Action.REMOVE_MEMBER)
    assert removal is not None and removal.outcome is Outcome.APPLIED
    assert not cast.client.is_active(rid)


def test_expiry__node_unreachable__member_removed_receipt_later(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, clock = build(cast, tmp_path, directory)
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 60)
    cast.as_(cast.bob).approve(rid)
    cast.as_(cast.carol).approve(rid)
    daemon.run_once()
    clock.travel(61)
    now = clock()
    clock.offset = 0
    real_provider = daemon.client.w3.provider
    daemon.client.w3.provider = Web3.HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 0.5})
    daemon.clock = daemon.executor.clock = lambda: now  # the chain is gone; the DC's clock goes on
    tick = daemon.run_once()
    assert not tick.chain_reachable and tick.expired == 1
    assert not directory.is_member(GroupRef(ADMINS_DN), AccountRef("alice"))
    assert daemon.journal.count("applied") == 1  # receipt owed
    daemon.client.w3.provider = real_provider
    assert daemon.run_once().reported == 1
    assert cast.client.receipt(rid, Action.REMOVE_MEMBER) is not None


def test_suspension__removes_every_membership(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    alice = cast.as_(cast.alice)
    rid = alice.request_elevation(ADMINS, 600, break_glass=True)
    cast.as_(cast.bob).approve(rid)  # break-glass: one approval by somebody else
    daemon.run_once()
    assert directory.is_member(GroupRef(ADMINS_DN), AccountRef("alice"))
    cast.as_(cast.council[0]).suspend(directory_id("alice"))
    daemon.run_once()
    assert not directory.is_member(GroupRef(ADMINS_DN), AccountRef("alice"))
    assert cast.client.receipt(rid, Action.REMOVE_MEMBER) is not None


def test_drift__out_of_band_member_reported_and_removed(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory, pseudonym_key=PSEUDONYM_KEY, remove_drift=True)
    directory.add_member(GroupRef(ADMINS_DN), AccountRef("mallory"))
    tick = daemon.run_once()
    assert tick.drift == 1
    assert not directory.is_member(GroupRef(ADMINS_DN), AccountRef("mallory"))
    drift = [
        e
        for e in cast.client.events(cast.deployment_block)
        if isinstance(e, GenericEvent) and e.event == "DriftReported"
    ]
    expected = pseudonymous_id(PSEUDONYM_KEY, directory.account(AccountRef("mallory")).object_guid)
    assert len(drift) == 1 and drift[0].args["member_hash"] == expected and drift[0].args["removed"] is True


def test_directory_outage__retried_then_applied(cast: Cast, tmp_path: Path) -> None:
    directory = FlakyDirectory(failures=2)
    daemon, _ = build(cast, tmp_path, directory)
    rid = cast.as_(cast.alice).request_unlock()
    assert daemon.run_once().applied == 0
    assert daemon.run_once().applied == 0
    assert daemon.run_once().applied == 1
    assert cast.client.receipt(rid, Action.UNLOCK).outcome is Outcome.APPLIED  # type: ignore[union-attr]


def test_directory_outage__beyond_retries__failed_receipt(cast: Cast, tmp_path: Path) -> None:
    directory = FlakyDirectory(failures=100)
    daemon, _ = build(cast, tmp_path, directory)
    rid = cast.as_(cast.alice).request_unlock()
    for _ in range(3):
        daemon.run_once()
    assert cast.client.receipt(rid, Action.UNLOCK).outcome is Outcome.FAILED  # type: ignore[union-attr]
    assert cast.client.status(rid) is Status.FAILED


def test_restart_between_apply_and_report__one_receipt(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    rid = cast.as_(cast.alice).request_unlock()
    daemon.follower.poll()
    daemon.executor.run_due()  # AD changed, then the process "dies" before reporting
    daemon.journal.close()
    again, _ = build(cast, tmp_path, directory)
    tick = again.run_once()
    assert (tick.journalled, tick.applied, tick.reported) == (0, 0, 1)
    assert again.run_once().reported == 0
    receipts = [e for e in cast.client.events(cast.deployment_block) if isinstance(e, ReceiptPosted)]
    assert [e.request_id for e in receipts] == [rid]


def test_password_reset__sealed_payload__applied_and_purged(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    store = PayloadStore(tmp_path / "payloads", ChainAuthorizer(cast.client), purge_interval=None)
    with ServedStore(store) as served:
        daemon, _ = build(cast, tmp_path, directory, payload_store_url=served.url)
        alice = cast.as_(cast.alice)
        ciphertext = seal_password(alice.oracle_key(DOMAIN), directory_id("alice"), NEW_PASSWORD)
        digest = PayloadClient(served.url).put(cast.alice, ciphertext)
        assert NEW_PASSWORD.encode() not in ciphertext
        rid = alice.request_password_reset(digest)
        assert cast.client.request(rid).payload_hash == digest == keccak(ciphertext)
        cast.as_(cast.bob).approve(rid)
        daemon.run_once()
        directory.authenticate(AccountRef("alice"), NEW_PASSWORD)
        assert cast.client.receipt(rid, Action.RESET_PASSWORD).outcome is Outcome.APPLIED  # type: ignore[union-attr]
        assert not (tmp_path / "payloads" / digest.hex()).exists()


def test_password_reset__weak_password__failed_receipt_and_old_password_kept(
    cast: Cast, tmp_path: Path
) -> None:
    directory = MemoryDirectory()
    store = PayloadStore(tmp_path / "payloads", ChainAuthorizer(cast.client), purge_interval=None)
    with ServedStore(store) as served:
        daemon, _ = build(cast, tmp_path, directory, payload_store_url=served.url)
        alice = cast.as_(cast.alice)
        ciphertext = seal_password(alice.oracle_key(DOMAIN), directory_id("alice"), "password1")
        rid = alice.request_password_reset(PayloadClient(served.url).put(cast.alice, ciphertext))
        cast.as_(cast.bob).approve(rid)
        daemon.run_once()
        assert cast.client.receipt(rid, Action.RESET_PASSWORD).outcome is Outcome.FAILED  # type: ignore[union-attr]
        directory.authenticate(AccountRef("alice"), GOOD_PASSWORD)


def test_password_reset__payload_sealed_for_another_subject__refused(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    store = PayloadStore(tmp_path / "payloads", ChainAuthorizer(cast.client), purge_interval=None)
    with ServedStore(store) as served:
        daemon, _ = build(cast, tmp_path, directory, payload_store_url=served.url)
        alice = cast.as_(cast.alice)
        ciphertext = seal_password(alice.oracle_key(DOMAIN), directory_id("bob"), NEW_PASSWORD)
        rid = alice.request_password_reset(PayloadClient(served.url).put(cast.alice, ciphertext))
        cast.as_(cast.carol).approve(rid)
        daemon.run_once()
        assert cast.client.receipt(rid, Action.RESET_PASSWORD).outcome is Outcome.FAILED  # type: ignore[union-attr]


def test_payload_store__stranger_cannot_write_or_read(cast: Cast, tmp_path: Path) -> None:
    from eth_account import Account
    from pamchain.sdk.payloads.store import PayloadStoreError

    store = PayloadStore(tmp_path / "payloads", ChainAuthorizer(cast.client), purge_interval=None)
    with ServedStore(store) as served:
        client = PayloadClient(served.url)
        stranger = Account.create()
        with pytest.raises(PayloadStoreError) as info:
            client.put(stranger, b"x" * 64)
        assert info.value.status == 403
        digest = client.put(cast.alice, b"y" * 64)
        with pytest.raises(PayloadStoreError) as info:
            client.get(cast.alice, digest)  # requesters write, only oracles read
        assert info.value.status == 403
        assert client.get(cast.oracle, digest) == b"y" * 64


def test_run_loop__health_endpoint_then_clean_stop(cast: Cast, tmp_path: Path) -> None:
    import json
    import threading
    import urllib.error
    import urllib.request

    from pamchain.sdk.chain.transactions import wait_until

    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    daemon.poll_interval = 0.05
    rid = cast.as_(cast.alice).request_unlock()
    thread = threading.Thread(target=daemon.run, kwargs={"health_port": 0, "install_signals": False})
    thread.start()
    try:
        cast.client.wait_for_receipt(rid, Action.UNLOCK, timeout=20)
        assert daemon._health is not None
        url = f"http://127.0.0.1:{daemon._health.port}/healthz"

        def healthy() -> dict[str, object] | None:
            try:  # 503 until the first tick has completed (the receipt is posted inside it)
                with urllib.request.urlopen(url, timeout=5) as response:
                    return dict(json.load(response))
            except urllib.error.HTTPError as exc:
                assert exc.code == 503
                return None

        state = wait_until(healthy, timeout=20)
        assert state["healthy"] and state["chain_reachable"] and state["reported_actions"] == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon._health.port}/metrics", timeout=5) as response:
            assert b"pamchain_oracle_reported_actions 1.0" in response.read()
    finally:
        daemon.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


# --- several oracles per domain (issue 15 item 2) ------------------------------------------------------------


def _second_oracle(cast: Cast) -> LocalAccount:
    """The council registers a second oracle for the domain beside the first (another DC site)."""
    assert cast.oracle2 is not None
    proposed = cast.as_(cast.council[0]).propose(
        "set_oracle", DOMAIN, cast.oracle2.address, public_key(bytes(cast.oracle.key))
    )
    proposal_id = next(
        e.args["proposal_id"]
        for e in proposed.events
        if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
    )
    cast.as_(cast.council[1]).approve_proposal(proposal_id)
    return cast.oracle2


def test_two_oracles__second_stands_down_on_the_first_receipt(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    second = _second_oracle(cast)
    first_daemon, _ = build(cast, tmp_path / "a", directory)
    standby, clock = build(cast, tmp_path / "b", directory, oracle=second, takeover_after=30.0)
    lock_out(directory, "alice")
    rid = cast.as_(cast.alice).request_unlock()
    assert standby.run_once().journalled == 1  # seen, held for its takeover delay
    assert first_daemon.run_once().applied == 1
    lock_out(directory, "alice")  # were the standby to unlock again, this lockout would be cleared
    clock.travel(31)
    # Its hold is over before it has followed the block with the first receipt: the executor asks the chain.
    assert standby.executor.run_due() == 1
    assert standby.run_once().reported == 0  # settled by the first receipt: nothing done, nothing posted
    assert directory.is_locked(AccountRef("alice"))
    receipt = cast.client.receipt(rid, Action.UNLOCK)
    assert receipt is not None and receipt.oracle == cast.oracle.address
    assert standby.journal.count("reported") == 1


def _receipt_lookups(daemon: OracleDaemon) -> list[int]:
    """The request ids the daemon's executor asks the chain about (another oracle's receipt), as it asks."""
    asked: list[int] = []
    lookup = daemon.executor.receipted
    assert lookup is not None

    def counted(rid: int, action: Action) -> Any:
        asked.append(rid)
        return lookup(rid, action)

    daemon.executor.receipted = counted
    return asked


def test_two_oracles__retry_after_the_other_acted__stands_down(cast: Cast, tmp_path: Path) -> None:
    """Two oracles acting at once, no standby: the second fails its first attempt (AD unreachable); by its
    retry the first has acted and posted its receipt, so the retry asks the chain and stands down."""
    directory = FlakyDirectory(failures=1)
    second = _second_oracle(cast)
    first_daemon, _ = build(cast, tmp_path / "a", directory)
    other, _ = build(cast, tmp_path / "b", directory, oracle=second)
    asked = _receipt_lookups(other)
    lock_out(directory, "alice")
    rid = cast.as_(cast.alice).request_unlock()
    assert other.run_once().applied == 0 and asked == []  # a first attempt asks nothing; AD failed it
    assert first_daemon.run_once().applied == 1
    lock_out(directory, "alice")  # were the other to unlock again, this lockout would be cleared
    assert other.executor.run_due() == 1 and asked == [rid]  # the retry asked, and stood down
    assert directory.is_locked(AccountRef("alice"))
    assert other.run_once().reported == 0 and other.journal.count("reported") == 1


def test_unlock__first_attempt__no_receipt_lookup_on_chain(cast: Cast, tmp_path: Path) -> None:
    """The follower settled every receipt up to the block an action came from: its first attempt acts at once,
    with no read of the chain for another oracle's receipt (one round trip less between request and AD)."""
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    asked = _receipt_lookups(daemon)
    lock_out(directory, "alice")
    rid = cast.as_(cast.alice).request_unlock()
    assert daemon.run_once().applied == 1 and not directory.is_locked(AccountRef("alice"))
    assert asked == [] and cast.client.receipt(rid, Action.UNLOCK) is not None


def test_two_oracles__late_joiner_replays_history_without_acting(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    second = _second_oracle(cast)
    first_daemon, _ = build(cast, tmp_path / "a", directory)
    lock_out(directory, "alice")
    cast.as_(cast.alice).request_unlock()
    first_daemon.run_once()
    lock_out(directory, "alice")
    joiner, _ = build(cast, tmp_path / "b", directory, oracle=second)
    tick = joiner.run_once()
    assert (tick.applied, tick.reported) == (0, 0) and directory.is_locked(AccountRef("alice"))


def test_two_oracles__standby_waits_its_delay_then_takes_over(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    second = _second_oracle(cast)
    standby, clock = build(cast, tmp_path / "b", directory, oracle=second, takeover_after=60.0)
    lock_out(directory, "alice")
    rid = cast.as_(cast.alice).request_unlock()
    standby.run_once()
    assert directory.is_locked(AccountRef("alice")) and cast.client.receipt(rid, Action.UNLOCK) is None
    clock.travel(61)  # the first site never acted: the standby does
    standby.run_once()
    assert not directory.is_locked(AccountRef("alice"))
    receipt = cast.client.receipt(rid, Action.UNLOCK)
    assert receipt is not None and receipt.oracle == second.address


def test_two_oracles__removals_never_wait_for_the_takeover_delay(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    second = _second_oracle(cast)
    first_daemon, clock = build(cast, tmp_path / "a", directory)
    standby, _ = build(cast, tmp_path / "b", directory, oracle=second, takeover_after=3600.0)
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 120, "maintenance")
    cast.as_(cast.bob).approve(rid)
    cast.as_(cast.carol).approve(rid)
    first_daemon.run_once()
    standby.run_once()  # journals the grant; its add is held an hour, but the grant's removal is not
    clock.travel(121)
    standby.run_once()  # the first site is down: the standby removes at expiry
    assert not directory.is_member(GroupRef(ADMINS_DN), AccountRef("alice"))
    removal = cast.client.receipt(rid, Action.REMOVE_MEMBER)
    assert removal is not None and removal.oracle == second.address
    first_daemon.run_once()  # back up: it ensures the absence too, and its duplicate receipt is refused
    assert cast.client.receipt(rid, Action.REMOVE_MEMBER) == removal
    assert not directory.is_member(GroupRef(ADMINS_DN), AccountRef("alice"))


def test_oracle_config__takeover_after_negative__refused(tmp_path: Path) -> None:
    from pamchain.sdk.errors import ConfigError
    from pamchain.sdk.oracle.config import OracleConfig

    data = {
        "chain": {"rpc_url": "http://127.0.0.1:1", "deployment": "d.json"},
        "oracle": {"keystore": "k.json", "domain": "corp.example", "dc_id": "DC1", "takeover_after": -1},
    }
    with pytest.raises(ConfigError, match="takeover_after"):
        OracleConfig.from_dict(data, base=tmp_path)
