"""``pamchain devnet``: a whole pamchain on one machine — node, contracts, payload store, oracle, directory.

Startup: demo keystores → directory (in-memory, or a throwaway Samba AD DC with ``--samba``) → a
single-validator node sealing on demand → the suite deployed with a 2-of-3 council → payload store → the
oracle in a thread. Then a short scenario (unlock, a short elevation that expires, a password reset) and,
unless ``--scenario-only``, it keeps running for people to try commands until Ctrl-C; shutdown stops every
part in reverse order, so nothing is left running or listening.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

DEMO_PASSPHRASE = "devnet-demo-only"  # printed on screen: these keys guard nothing but a throwaway chain
KEY_ITERATIONS = 2**14  # scrypt n for demo keys: fast to open; real keys use eth-account's default (2**18)
CHAIN_ID = 1337
DOMAIN_NAME = "corp.example"
DOMAIN = DOMAIN_NAME.encode().ljust(32, b"\x00")
DC_ID = b"DC1".ljust(32, b"\x00")
PEOPLE = ("alice", "bob", "carol")
COUNCIL = ("council-1", "council-2", "council-3")
NAMES = ("deployer", *COUNCIL, "oracle", *PEOPLE)
FIRST_PASSWORD = "Winter-Harbour-Lamp-81"
NEW_PASSWORD = "Quiet-Orange-Lantern-27"
PSEUDONYM_KEY = keccak(text="devnet pseudonym key: generate your own with `openssl rand -hex 32`")


@dataclass
class DevnetInfo:
    """Where everything of a running devnet is: what the closing message prints."""

    root: Path
    rpc_url: str = ""
    payload_url: str = ""
    deployment_file: Path = Path()
    password_file: Path = Path()
    keystores: dict[str, Path] = field(default_factory=dict)
    ids: dict[str, bytes] = field(default_factory=dict)
    group_dn: str = ""
    directory: str = "in-memory"


@contextlib.contextmanager
def _directory(root: Path, samba: bool, echo: Callable[[str], None]) -> Iterator[tuple[Any, str, str]]:
    """The directory, the elevation group's DN, and a label; a Samba DC is stopped on exit, by its pid."""
    if not samba:
        from pamchain.sdk.memory_directory import MemoryDirectory

        directory = MemoryDirectory(base_dn="DC=corp,DC=example")
        group = directory.create_group("Domain Admins")
        yield directory, group.dn, "in-memory directory"
        return
    from pamchain.scripts import samba_dc
    from pamchain.sdk.directory import AlreadyExists
    from pamchain.sdk.ldap_directory import LdapDirectory

    if not samba_dc.samba_available():
        raise click.ClickException("--samba needs Samba AD DC installed (bash .ci/install-samba.sh)")
    echo("provisioning a throwaway Samba AD DC (the first time takes a minute)...")
    dc = samba_dc.provision(root / "samba", ip=samba_dc.free_loopback_ip())
    samba_dc.start(dc, maximum_runtime=24 * 3600)
    try:
        config = samba_dc.admin_ldap_config(dc, root / "samba" / "bind-password")
        ldap = LdapDirectory(config)
        try:
            group_dn = ldap.create_group("Tier0 Admins").dn
        except AlreadyExists:
            group_dn = f"CN=Tier0 Admins,CN=Users,{dc.base_dn}"
        try:
            yield ldap, group_dn, f"Samba AD DC at {dc.ldaps_url} (pid {dc.pid()})"
        finally:
            ldap.close()
    finally:
        samba_dc.stop(dc)


def _write_keys(root: Path) -> tuple[dict[str, LocalAccount], dict[str, Path], Path]:
    from pamchain.sdk.keys import create_keystore

    password_file = root / "keys" / "passphrase.txt"
    password_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    password_file.write_text(DEMO_PASSPHRASE + "\n")
    password_file.chmod(0o600)
    accounts, paths = {}, {}
    for name in NAMES:
        path, account = create_keystore(root / "keys" / name, DEMO_PASSPHRASE, iterations=KEY_ITERATIONS)
        accounts[name], paths[name] = account, path
    return accounts, paths, password_file


def demo_plan(accounts: dict[str, LocalAccount], ids: dict[str, bytes], group: bytes) -> Any:
    """The demo world's deployment: a 2-of-3 council, one oracle, alice/bob/carol, three policies."""
    from pamchain.sdk.deployer import OracleSpec, Plan, PolicySpec, PrincipalSpec
    from pamchain.sdk.model import PASSWORD_RESET_TARGET, UNLOCK_TARGET
    from pamchain.sdk.sealed import public_key

    approvers = (ids["bob"], ids["carol"])
    return Plan(
        council=[accounts[n].address for n in COUNCIL],
        threshold=2,
        oracles=[OracleSpec(DOMAIN, accounts["oracle"].address, public_key(accounts["oracle"].key))],
        principals=[PrincipalSpec(accounts[n].address, ids[n], DOMAIN) for n in PEOPLE],
        policies=[
            PolicySpec(
                UNLOCK_TARGET,
                DOMAIN,
                self_service=True,
                approvals_required=0,
                max_pending=600,
                unlock_limit=5,
                unlock_window=24 * 3600,
            ),
            PolicySpec(PASSWORD_RESET_TARGET, DOMAIN, approvers=approvers, approvals_required=1),
            PolicySpec(
                group,
                DOMAIN,
                approvers=approvers,
                approvals_required=2,
                max_duration=3600,
                break_glass_approvals=1,
                break_glass_max_duration=900,
                requesters=tuple(ids[n] for n in PEOPLE),
                break_glass_cooldown=4 * 3600,
            ),
        ],
    )


class _OracleThread:
    """The oracle daemon's loop on a thread; ``stop`` drains the current tick and joins."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.thread = threading.Thread(target=self._run, name="pamchain-oracle", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.daemon.run(install_signals=False)
        except BaseException as exc:  # handed to the main thread, which reports it
            self.error = exc

    def __enter__(self) -> _OracleThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.stop()
        self.thread.join(30)


def run_devnet(
    *,
    datadir: Path | None = None,
    port: int = 8545,
    payload_port: int = 8547,
    samba: bool = False,
    grant_seconds: int = 5,
    scenario: bool = True,
    keep_running: bool = True,
    echo: Callable[[str], None] = click.echo,
    ready: Callable[[DevnetInfo], None] | None = None,
) -> DevnetInfo:
    """Start everything, play the scenario, then (``keep_running``) wait for SIGINT/SIGTERM; stop everything."""
    from pamchain.node.genesis import deployment_genesis
    from pamchain.node.service import run_node
    from pamchain.sdk.client import PamClient, connect
    from pamchain.sdk.deployer import deploy_plan
    from pamchain.sdk.directory import StaticIdMap, group_target_id, pseudonymous_id
    from pamchain.sdk.oracle.assembly import assemble
    from pamchain.sdk.oracle.follower import Finality
    from pamchain.sdk.oracle.light_client import Anchor, Verification
    from pamchain.sdk.payload_store import ChainAuthorizer, PayloadStore, ServedStore

    t0 = time.monotonic()
    logging.getLogger("pamchain").addHandler(
        logging.NullHandler()
    )  # the devnet prints events, not daemon logs
    logging.getLogger("pamchain").propagate = False
    with contextlib.ExitStack() as stack:
        if datadir is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pamchain-devnet-")))
        else:
            root = datadir.expanduser().resolve()
            if root.exists() and any(root.iterdir()):
                raise click.ClickException(f"{root} is not empty: a devnet starts from an empty --datadir")
            root.mkdir(parents=True, exist_ok=True)
        info = DevnetInfo(root)
        echo(f"pamchain devnet in {root}")
        accounts, info.keystores, info.password_file = _write_keys(root)
        echo(
            f"  demo keystores written (passphrase {DEMO_PASSPHRASE!r}: demo keys, never use them for anything real)"
        )

        directory, info.group_dn, info.directory = stack.enter_context(_directory(root, samba, echo))
        users = {}
        for name in PEOPLE:
            users[name] = directory.create_user(name, FIRST_PASSWORD)
            info.ids[name] = pseudonymous_id(PSEUDONYM_KEY, users[name].object_guid)
        group = group_target_id(PSEUDONYM_KEY, info.group_dn)
        echo(f"  directory: {info.directory}; users {', '.join(PEOPLE)}; group {info.group_dn}")

        signer = Account.create()
        genesis = deployment_genesis(
            [signer.address],
            CHAIN_ID,
            {a.address: 10**24 for a in accounts.values()},
            accounts["deployer"].address,
        )
        try:
            node = stack.enter_context(run_node(genesis, signer.key, root / "node", port=port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): pass --port"
            ) from exc
        info.rpc_url = node.url
        echo(f"  node: {node.url} (chain {CHAIN_ID}, Clique, one validator sealing on demand, permissioned)")

        w3 = connect(node.url)
        client, deployment = deploy_plan(w3, accounts["deployer"], demo_plan(accounts, info.ids, group))
        info.deployment_file = root / "deployment.json"
        deployment.save(info.deployment_file)
        echo(
            f"  contracts: PamChain at {deployment.address}, block {deployment.block}; council 2-of-3, bootstrap ended"
        )

        store = PayloadStore(
            root / "payloads",
            ChainAuthorizer(PamClient(connect(node.url), deployment.address), start_block=deployment.block),
        )
        try:
            served = stack.enter_context(ServedStore(store, port=payload_port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on 127.0.0.1:{payload_port} ({exc.strerror}): pass --payload-port"
            ) from exc
        info.payload_url = served.url
        echo(f"  payload store: {served.url}")

        id_map = StaticIdMap.from_hex(
            {"0x" + info.ids[n].hex(): users[n].sam_account_name for n in PEOPLE},
            {"0x" + group.hex(): info.group_dn},
        )
        (root / "oracle").mkdir(mode=0o700)
        daemon = assemble(
            PamClient(connect(node.url), deployment.address, accounts["oracle"]),
            accounts["oracle"],
            directory,
            root / "oracle" / "journal.sqlite3",
            domain=DOMAIN,
            dc_id=DC_ID,
            id_map=id_map,
            start_block=deployment.block,
            payload_store_url=served.url,
            pseudonym_key=PSEUDONYM_KEY,
            finality=Finality(),
            poll_interval=0.2,
            reconcile_interval=3600,
            # as in production: the oracle verifies the node's blocks from the deployment block's hash
            verification=Verification("clique", Anchor.parse(deployment.block, str(deployment.block_hash))),
        )
        oracle = stack.enter_context(_OracleThread(daemon))
        echo(f"  oracle: {accounts['oracle'].address} for {DOMAIN_NAME}, following final blocks")

        if scenario:
            _Scenario(client, accounts, directory, users, info, grant_seconds, echo, oracle).play()
        echo(f"\nready in {time.monotonic() - t0:.1f} s")
        if ready is not None:
            ready(info)
        if keep_running:
            from pamchain.web.devnet import devnet_web  # the phone app (issue 8), stopped with the rest

            stack.enter_context(
                devnet_web(
                    rpc_url=node.url,
                    deployment=deployment,
                    payload_store_url=served.url,
                    client=client,
                    council=(accounts["council-1"], accounts["council-2"]),
                    ids=info.ids,
                    group_dn=info.group_dn,
                    group_id=group,
                    echo=echo,
                )
            )
            _print_howto(info, echo)
            _wait_for_signal()
            echo("\nstopping: oracle, payload store, node" + (", Samba DC" if samba else "") + "...")
    echo("stopped; nothing left running.")
    return info


def _wait_for_signal() -> None:
    """Block until SIGINT/SIGTERM; a second signal exits at once (every part is crash-safe)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_howto(info: DevnetInfo, echo: Callable[[str], None]) -> None:
    keys = info.keystores
    echo(
        f"""
The devnet is running. In another terminal:

  export PAMCHAIN_RPC_URL={info.rpc_url}
  export PAMCHAIN_DEPLOYMENT={info.deployment_file}
  export PAMCHAIN_PAYLOAD_STORE={info.payload_url}
  export PAMCHAIN_PASSWORD='{DEMO_PASSPHRASE}'   # demo keys only; or --password-file {info.password_file}

  pamchain request unlock --keystore {keys["alice"].parent} --wait 30
  pamchain request elevate '{info.group_dn}' --duration 60 --justification 'try it' --keystore {keys["alice"].parent}
  pamchain approve <id> --keystore {keys["bob"].parent}
  pamchain approve <id> --keystore {keys["carol"].parent}
  pamchain grants
  pamchain receipts
  pamchain request password --keystore {keys["alice"].parent} --wait 30
  pamchain principal suspend 0x{info.ids["carol"].hex()} --keystore {keys["council-1"].parent}
  pamchain council list
  pamchain audit export --format csv -o audit.csv
  pamchain audit verify

Demo keystores (passphrase '{DEMO_PASSPHRASE}', demo keys only):"""
    )
    for name, path in keys.items():
        echo(f"  {name:<10} {path}")
    echo("\nCtrl-C stops everything.")


class _Scenario:
    """The three stories on the live devnet, each waiting for the oracle's receipt before going on."""

    def __init__(
        self,
        client: Any,
        accounts: dict[str, LocalAccount],
        directory: Any,
        users: dict[str, Any],
        info: DevnetInfo,
        grant_seconds: int,
        echo: Callable[[str], None],
        oracle: _OracleThread,
    ) -> None:
        self.client = client
        self.accounts = accounts
        self.directory = directory
        self.users = users
        self.info = info
        self.grant_seconds = grant_seconds
        self.echo = echo
        self.oracle = oracle
        self.seen = int(client.w3.eth.block_number)

    def as_(self, name: str) -> Any:
        return self.client.as_account(self.accounts[name])

    def show(self, title: str) -> None:
        from .demo import describe

        self.echo(f"\n== {title}")
        head = int(self.client.w3.eth.block_number)
        for event in self.client.events(self.seen + 1, head):
            self.echo(describe(event))
        self.seen = head

    def wait_receipt(self, request_id: int, action: Any, timeout: float = 30.0) -> None:
        if self.oracle.error is not None:
            raise click.ClickException(f"the oracle stopped: {self.oracle.error}")
        self.client.wait_for_receipt(request_id, action, timeout=timeout)

    def play(self) -> None:
        from pamchain.sdk.directory import AuthenticationFailed
        from pamchain.sdk.model import Action, ticket_ref
        from pamchain.sdk.payload_store import PayloadClient
        from pamchain.sdk.sealed import seal_password

        alice = self.users["alice"].ref
        self.echo("\n-- alice mistypes her password three times")
        for _ in range(3):
            with contextlib.suppress(AuthenticationFailed):
                self.directory.authenticate(alice, "hunter2-wrong")
        self.echo(f"   locked in AD: {self.directory.is_locked(alice)}")
        rid = self.as_("alice").request_unlock()
        self.wait_receipt(rid, Action.UNLOCK)
        self.show("unlock: self-service request; the oracle applies it and posts its receipt")
        self.echo(f"   locked in AD: {self.directory.is_locked(alice)}")

        from pamchain.sdk.directory import GroupRef, group_target_id
        from pamchain.sdk.sealed_justifications import seal_for_request

        group = GroupRef(self.info.group_dn)
        target = group_target_id(PSEUDONYM_KEY, self.info.group_dn)
        payloads = PayloadClient(self.info.payload_url)
        for approver in ("bob", "carol"):  # approvers publish their encryption keys once
            payloads.publish_key(self.accounts[approver])
        digest, _ = seal_for_request(self.as_("alice"), payloads, target, "patch the DCs")
        rid = self.as_("alice").request_elevation(
            target, self.grant_seconds, ticket=ticket_ref("CHG-1042"), justification_hash=digest
        )
        self.as_("bob").approve(rid)
        self.as_("carol").approve(rid)
        self.wait_receipt(rid, Action.ADD_MEMBER)
        self.show(
            f"elevation: {self.info.group_dn.split(',')[0][3:]} for {self.grant_seconds} s, approved 2-of-2"
        )
        self.echo(f"   alice is a member: {self.directory.is_member(group, alice)}")
        self.wait_receipt(rid, Action.REMOVE_MEMBER, timeout=self.grant_seconds + 30)
        self.show(f"{self.grant_seconds} s later the grant expires; the oracle removes alice unasked")
        self.echo(f"   alice is a member: {self.directory.is_member(group, alice)}")

        sealed = seal_password(self.client.oracle_key(DOMAIN), self.info.ids["alice"], NEW_PASSWORD)
        digest = payloads.put(self.accounts["alice"], sealed)
        rid = self.as_("alice").request_password_reset(digest)
        self.as_("bob").approve(rid)
        self.wait_receipt(rid, Action.RESET_PASSWORD)
        self.show("password reset: sealed to the oracle's key, only its hash on chain, approved by bob")
        self.directory.authenticate(alice, NEW_PASSWORD)
        self.echo("   alice binds with her new password: yes")


@click.command()
@click.option(
    "--datadir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep everything here (default: a temp dir, removed at exit).",
)
@click.option(
    "--port",
    default=8545,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="JSON-RPC port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--payload-port",
    default=8547,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Payload store port (0: any).",
)
@click.option(
    "--samba", is_flag=True, help="Use a throwaway local Samba AD DC instead of the in-memory directory."
)
@click.option(
    "--grant-seconds",
    default=5,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="The scenario's elevation length.",
)
@click.option("--no-scenario", is_flag=True, help="Start everything but skip the scenario.")
@click.option(
    "--scenario-only",
    "--no-wait",
    "scenario_only",
    is_flag=True,
    help="Exit after the scenario instead of running on.",
)
def devnet(
    datadir: Path | None,
    port: int,
    payload_port: int,
    samba: bool,
    grant_seconds: int,
    no_scenario: bool,
    scenario_only: bool,
) -> None:
    """Run a whole pamchain here: node, contracts, payload store, oracle and directory, a scenario, then wait.

    Everything listens on 127.0.0.1 only. Ctrl-C stops every part; nothing is left running.
    """
    run_devnet(
        datadir=datadir,
        port=port,
        payload_port=payload_port,
        samba=samba,
        grant_seconds=grant_seconds,
        scenario=not no_scenario,
        keep_running=not scenario_only,
    )
