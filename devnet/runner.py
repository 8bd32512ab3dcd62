"""``pamchain devnet``'s run: a whole pamchain on this machine — node, contracts, payload store, oracle,
directory — its stories, then (``keep_running``) the phone app until a signal.

Start-up: demo keystores → directory (in-memory, or a throwaway Samba AD DC) → a single-validator node
sealing on demand → the suite deployed with a 2-of-3 council → payload store → the oracle on a thread →
the stories. Every part is started inside one :class:`~pamchain.devnet.lifecycle.Lifecycle`, so SIGINT,
SIGTERM or a part that dies stops the run at any point and every part in reverse order.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account

from .lifecycle import Lifecycle, SetupError
from .processes import alive
from .stories import LiveStories
from .world import (
    CHAIN_ID,
    DC_ID,
    DEMO_PASSPHRASE,
    DOMAIN,
    DOMAIN_NAME,
    FIRST_PASSWORD,
    PEOPLE,
    PSEUDONYM_KEY,
    demo_plan,
    write_keys,
)


def _print(line: str) -> None:
    print(line, flush=True)


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


class OracleThread:
    """The oracle daemon's loop on a thread; ``stop`` drains the current tick and joins."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.thread = threading.Thread(target=self._run, name="pamchain-oracle", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.daemon.run(install_signals=False)
        except BaseException as exc:  # handed to the main thread through ``failure``
            self.error = exc

    def failure(self) -> str | None:
        """``None`` while the loop runs, else how it ended (for the devnet's watcher): the exception's type,
        text and the line that raised it, since the devnet shows no log (``KeyError``'s text alone is a bare
        key)."""
        if self.thread.is_alive():
            return None
        if self.error is None:
            return "stopped"
        frames = traceback.extract_tb(self.error.__traceback__)
        where = (
            f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})"
            if frames
            else ""
        )
        return f"stopped: {type(self.error).__name__}: {self.error}{where}"

    def __enter__(self) -> OracleThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.stop()
        self.thread.join(30)


@contextlib.contextmanager
def _samba_directory(
    root: Path, life: Lifecycle, echo: Callable[[str], None]
) -> Iterator[tuple[Any, str, str]]:
    """A throwaway Samba AD DC, watched while it runs, and a directory bound to it; the DC stops on exit."""
    from pamchain.sdk.directory import AlreadyExists
    from pamchain.sdk.directory.ldap import LdapDirectory

    from . import samba_dc

    if not samba_dc.samba_available():
        raise SetupError("--samba needs Samba AD DC installed (bash .ci/install-samba.sh)")
    echo("provisioning a throwaway Samba AD DC (the first time takes a minute)...")
    try:
        dc = samba_dc.provision(root / "samba", ip=samba_dc.free_loopback_ip())
        samba_dc.start(dc, maximum_runtime=24 * 3600)
    except samba_dc.SambaError as exc:
        raise SetupError(str(exc)) from exc
    try:
        pid = dc.pid()
        life.watch(
            f"the Samba AD DC (pid {pid})", lambda: None if pid is not None and alive(pid) else "exited"
        )
        ldap = LdapDirectory(samba_dc.admin_ldap_config(dc, root / "samba" / "bind-password"))
        try:
            try:
                group_dn = ldap.create_group("Tier0 Admins").dn
            except AlreadyExists:
                group_dn = f"CN=Tier0 Admins,CN=Users,{dc.base_dn}"
            yield ldap, group_dn, f"Samba AD DC at {dc.ldaps_url} (pid {pid})"
        finally:
            ldap.close()
    finally:
        samba_dc.stop(dc)


@contextlib.contextmanager
def _memory_directory() -> Iterator[tuple[Any, str, str]]:
    from pamchain.sdk.directory.memory import MemoryDirectory

    directory = MemoryDirectory(base_dn="DC=corp,DC=example")
    yield directory, directory.create_group("Domain Admins").dn, "in-memory directory"


def _data_dir(datadir: Path | None, life: Lifecycle) -> Path:
    if datadir is None:
        return Path(life.enter_context(tempfile.TemporaryDirectory(prefix="pamchain-devnet-")))
    root = datadir.expanduser().resolve()
    if root.exists() and any(root.iterdir()):
        raise SetupError(f"{root} is not empty: a devnet starts from an empty --datadir")
    root.mkdir(parents=True, exist_ok=True)
    return root


def run_devnet(
    *,
    datadir: Path | None = None,
    port: int = 8545,
    payload_port: int = 8547,
    samba: bool = False,
    grant_seconds: int = 5,
    scenario: bool = True,
    keep_running: bool = True,
    echo: Callable[[str], None] = _print,
    ready: Callable[[DevnetInfo], None] | None = None,
) -> DevnetInfo:
    """Start everything, play the stories, then (``keep_running``) run until SIGINT/SIGTERM; stop everything.

    Returns once the stories are played without ``keep_running``. Raises, every part stopped,
    :class:`~pamchain.devnet.lifecycle.SetupError` when it cannot start here, and
    :class:`~pamchain.devnet.lifecycle.Stopped` when a signal or a dying part ended it (``exit_code``: 0 for a
    signal once ready, the normal end of a running devnet; 128 + the signal during start-up; 1 for a part).
    """
    t0 = time.monotonic()
    logging.getLogger("pamchain").addHandler(logging.NullHandler())  # the devnet prints events, not logs
    logging.getLogger("pamchain").propagate = False
    with Lifecycle(echo) as life:
        info = life.run(
            lambda: _start(
                life,
                t0=t0,
                datadir=datadir,
                port=port,
                payload_port=payload_port,
                samba=samba,
                grant_seconds=grant_seconds,
                scenario=scenario,
                keep_running=keep_running,
                ready=ready,
            )
        )
        if keep_running:
            life.wait()
    return info


def _start(
    life: Lifecycle,
    *,
    t0: float,
    datadir: Path | None,
    port: int,
    payload_port: int,
    samba: bool,
    grant_seconds: int,
    scenario: bool,
    keep_running: bool,
    ready: Callable[[DevnetInfo], None] | None,
) -> DevnetInfo:
    """Every part, in order, then the stories (on the lifecycle's worker thread)."""
    from pamchain.node.genesis import deployment_genesis
    from pamchain.node.service import run_node
    from pamchain.sdk.chain.client import PamClient, connect
    from pamchain.sdk.chain.deployer import deploy_plan
    from pamchain.sdk.directory import StaticIdMap, group_target_id, pseudonymous_id
    from pamchain.sdk.oracle.assembly import assemble
    from pamchain.sdk.oracle.follower import Finality
    from pamchain.sdk.oracle.light_client import Anchor, Verification
    from pamchain.sdk.payloads.store import ChainAuthorizer, PayloadStore, ServedStore

    echo = life.echo  # an abandoned start-up prints nothing more
    root = _data_dir(datadir, life)
    info = DevnetInfo(root)
    echo(f"pamchain devnet in {root}")
    accounts, info.keystores, info.password_file = write_keys(root)
    echo(
        f"  demo keystores written (passphrase {DEMO_PASSPHRASE!r}: demo keys, never use them for anything real)"
    )

    parts = _samba_directory(root, life, echo) if samba else _memory_directory()
    directory, info.group_dn, info.directory = life.enter_context(parts, "Samba DC" if samba else None)
    users = {}
    for name in PEOPLE:
        users[name] = directory.create_user(name, FIRST_PASSWORD)
        info.ids[name] = pseudonymous_id(PSEUDONYM_KEY, users[name].object_guid)
    group = group_target_id(PSEUDONYM_KEY, info.group_dn)
    echo(f"  directory: {info.directory}; users {', '.join(PEOPLE)}; group {info.group_dn}")

    signer = Account.create()
    # Nobody is funded: a deployment genesis is a free-gas chain, where enrolment (or a council seat, or the
    # oracle role) is what lets an account transact.
    genesis = deployment_genesis([signer.address], CHAIN_ID, {}, accounts["deployer"].address)
    try:
        node = life.enter_context(run_node(genesis, signer.key, root / "node", port=port), "node")
    except OSError as exc:
        raise SetupError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): pass --port") from exc
    info.rpc_url = node.url
    echo(f"  node: {node.url} (chain {CHAIN_ID}, Clique, one validator sealing on demand, permissioned)")

    client, deployment = deploy_plan(
        connect(node.url), accounts["deployer"], demo_plan(accounts, info.ids, group)
    )
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
        served = life.enter_context(ServedStore(store, port=payload_port), "payload store")
    except OSError as exc:
        raise SetupError(
            f"cannot listen on 127.0.0.1:{payload_port} ({exc.strerror}): pass --payload-port"
        ) from exc
    info.payload_url = served.url
    echo(f"  payload store: {served.url}")

    (root / "oracle").mkdir(mode=0o700)
    daemon = assemble(
        PamClient(connect(node.url), deployment.address, accounts["oracle"]),
        accounts["oracle"],
        directory,
        root / "oracle" / "journal.sqlite3",
        domain=DOMAIN,
        dc_id=DC_ID,
        id_map=StaticIdMap.from_hex(
            {"0x" + info.ids[n].hex(): users[n].sam_account_name for n in PEOPLE},
            {"0x" + group.hex(): info.group_dn},
        ),
        start_block=deployment.block,
        payload_store_url=served.url,
        pseudonym_key=PSEUDONYM_KEY,
        finality=Finality(),
        poll_interval=0.2,
        reconcile_interval=3600,
        # as in production: the oracle verifies the node's blocks from the deployment block's hash
        verification=Verification("clique", Anchor.parse(deployment.block, str(deployment.block_hash))),
    )
    oracle = life.enter_context(OracleThread(daemon), "oracle")
    life.watch("the oracle", oracle.failure)
    echo(f"  oracle: {accounts['oracle'].address} for {DOMAIN_NAME}, following final blocks")

    if scenario:
        stories = LiveStories(
            client,
            accounts,
            directory,
            users,
            info.ids,
            info.group_dn,
            served.url,
            grant_seconds,
            echo,
        )
        stories.play()
    echo(f"\nready in {time.monotonic() - t0:.1f} s")
    if ready is not None:
        ready(info)
    if keep_running:
        from pamchain.web.devnet import devnet_web  # the phone app (issue 8), stopped with the rest

        web = devnet_web(
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
        life.enter_context(web, "phone app")
        _print_howto(info, echo)
    life.ready()
    return info


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
