"""``pamchain demo``: the stories (and drift detection) on a throwaway in-process chain (py-evm through
eth-tester) with an in-memory directory; the oracle ticks by hand and the chain's clock jumps over expiries."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pamchain.sdk.chain.deployer import deploy_plan
from pamchain.sdk.chain.model import ticket_ref
from pamchain.sdk.directory import (
    AccountRef,
    AuthenticationFailed,
    GroupRef,
    StaticIdMap,
    group_target_id,
    pseudonymous_id,
)
from pamchain.sdk.directory.memory import MemoryDirectory
from pamchain.sdk.oracle.assembly import assemble
from pamchain.sdk.oracle.follower import Finality
from pamchain.sdk.payloads.sealed import seal_password
from pamchain.sdk.payloads.store import ChainAuthorizer, PayloadClient, PayloadStore, ServedStore
from web3 import EthereumTesterProvider, Web3
from web3.types import Wei

from .lifecycle import Lifecycle
from .world import (
    COUNCIL,
    DC_ID,
    DOMAIN,
    FIRST_PASSWORD,
    NEW_PASSWORD,
    PEOPLE,
    PSEUDONYM_KEY,
    demo_plan,
    describe,
)

ADMINS_DN = "CN=Domain Admins,CN=Users,DC=corp,DC=example"
ADMINS = group_target_id(PSEUDONYM_KEY, ADMINS_DN)


def _print(line: str) -> None:
    print(line, flush=True)


def run_demo(*, grant_seconds: int = 120, echo: Callable[[str], None] = _print) -> None:
    """Play the stories (and drift detection) on an in-process chain, printing every event; then return.

    Inside a :class:`~pamchain.devnet.lifecycle.Lifecycle`: SIGINT or SIGTERM stops it at any point
    (:class:`~pamchain.devnet.lifecycle.Interrupted`) and its temp dir goes with it.
    """
    t0 = time.monotonic()
    logging.getLogger("pamchain").addHandler(logging.NullHandler())  # the demo prints events, not daemon logs
    logging.getLogger("pamchain").propagate = False
    with Lifecycle(echo) as life:
        life.run(lambda: _play(life, grant_seconds))
    echo(f"\ndone in {time.monotonic() - t0:.1f} s. Run `make test` for the suite; see README.md for more.")


def _play(life: Lifecycle, grant_seconds: int) -> None:
    """The demo itself, on the lifecycle's worker thread."""
    echo = life.echo  # an abandoned demo prints nothing more
    echo("pamchain demo — in-process chain (py-evm via eth-tester), in-memory Active Directory")
    from pamchain.contracts import compile_suite

    artifacts = compile_suite()["PamChain"]
    echo(f"compiled PamChain.vy: {len(artifacts['bytecode_runtime']) // 2 - 1:,} bytes of runtime code")

    w3 = Web3(EthereumTesterProvider())
    accounts = _fund(w3, ["deployer", *COUNCIL, "oracle", *PEOPLE])
    directory = MemoryDirectory(base_dn="DC=corp,DC=example")
    ids = {}
    for name in PEOPLE:
        account = directory.create_user(name, FIRST_PASSWORD)
        ids[name] = pseudonymous_id(PSEUDONYM_KEY, account.object_guid)
    directory.create_group("Domain Admins")

    plan = demo_plan(accounts, ids, ADMINS)
    client, deployment = deploy_plan(w3, accounts["deployer"], plan)
    echo(f"deployed at {deployment.address}; council 2-of-3; bootstrap ended: {not client.bootstrapping()}")

    tmp = life.enter_context(tempfile.TemporaryDirectory(prefix="pamchain-demo-"))
    # No background purge: eth-tester is not to be shared between threads, and the demo's store is temporary.
    store = PayloadStore(
        Path(tmp) / "payloads", ChainAuthorizer(client, start_block=deployment.block), purge_interval=None
    )
    served = life.enter_context(ServedStore(store))
    chain_time = _ChainClock(w3)
    oracle = assemble(
        client.as_account(accounts["oracle"]),
        accounts["oracle"],
        directory,
        Path(tmp) / "journal.sqlite3",
        domain=DOMAIN,
        dc_id=DC_ID,
        id_map=StaticIdMap.from_hex(
            {"0x" + ids[n].hex(): n for n in PEOPLE}, {"0x" + ADMINS.hex(): ADMINS_DN}
        ),
        start_block=deployment.block,
        payload_store_url=served.url,
        pseudonym_key=PSEUDONYM_KEY,
        finality=Finality(confirmations=0),
        reconcile_interval=3600,
        clock=chain_time,
    )
    alice = client.as_account(accounts["alice"])
    as_bob, as_carol = client.as_account(accounts["bob"]), client.as_account(accounts["carol"])
    seen = client.events(0, "latest")[-1].at.block_number

    def show(title: str) -> None:
        nonlocal seen
        echo(f"\n== {title}")
        oracle.run_once()
        for event in client.events(seen + 1, "latest"):
            echo(describe(event))
        seen = int(w3.eth.block_number)

    echo("\n-- alice mistypes her password three times and is locked out")
    for _ in range(3):
        with contextlib.suppress(AuthenticationFailed):
            directory.authenticate(AccountRef("alice"), "hunter2")
    echo(f"   locked in AD: {directory.is_locked(AccountRef('alice'))}")
    alice.request_unlock()
    show("unlock: self-service request, oracle applies it and posts its receipt")
    echo(f"   locked in AD: {directory.is_locked(AccountRef('alice'))}")

    admins = GroupRef(ADMINS_DN)
    rid = alice.request_elevation(ADMINS, grant_seconds, "patch the DCs", ticket_ref("CHG-1042"))
    as_bob.approve(rid)
    as_carol.approve(rid)
    show(f"elevation: Domain Admins for {grant_seconds} s, approved 2-of-2 by bob and carol")
    echo(f"   alice in Domain Admins: {directory.is_member(admins, AccountRef('alice'))}")

    _travel(w3, grant_seconds)
    show(f"{grant_seconds} s later: the grant expires; the oracle removes alice without being asked")
    echo(
        f"   alice in Domain Admins: {directory.is_member(admins, AccountRef('alice'))}; "
        f"grant active on chain: {client.is_active(rid)}"
    )
    client.as_account(accounts["carol"]).end_expired(rid)
    show("anyone may mark the expired grant ended, for the record (nothing depends on it)")

    payloads = PayloadClient(served.url)
    sealed = seal_password(alice.oracle_key(DOMAIN), ids["alice"], NEW_PASSWORD)
    digest = payloads.put(accounts["alice"], sealed)
    reset = alice.request_password_reset(digest)
    as_bob.approve(reset)
    show("password reset: sealed to the oracle's key, only its hash on chain, approved by bob")
    directory.authenticate(AccountRef("alice"), NEW_PASSWORD)
    echo("   alice binds with her new password: yes")

    directory.add_member(admins, AccountRef("carol"))
    oracle.reconcile_interval = 0
    show("drift: carol is added to Domain Admins behind pamchain's back; the oracle raises an alarm")
    oracle.journal.close()


class _ChainClock:
    """The demo's oracle reads time from the chain, so fast-forwarding the chain fast-forwards expiries."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def __call__(self) -> float:
        return float(self.w3.eth.get_block("latest")["timestamp"])


def _travel(w3: Web3, seconds: int) -> None:
    tester = w3.provider.ethereum_tester  # type: ignore[attr-defined]
    tester.time_travel(int(w3.eth.get_block("latest")["timestamp"]) + seconds + 1)
    tester.mine_blocks(1)


def _fund(w3: Web3, names: list[str]) -> dict[str, LocalAccount]:
    funder = w3.eth.accounts[0]
    out = {}
    for name in names:
        account = Account.create()
        w3.eth.send_transaction({"from": funder, "to": account.address, "value": Wei(10**20)})
        out[name] = account
    return out
