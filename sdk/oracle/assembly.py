"""Builds a ready daemon from its parts or from a configuration file: the one place the parts are wired."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from eth_account.signers.local import LocalAccount
from pamchain.sdk.chain.client import Deployment, PamClient, connect
from pamchain.sdk.chain.model import PrincipalStatus
from pamchain.sdk.directory import (
    AccountRef,
    ChainedResolver,
    Directory,
    HmacGuidResolver,
    IdResolver,
    StaticIdMap,
    pseudonymous_id,
    read_pseudonym_key,
)
from pamchain.sdk.errors import ConfigError
from pamchain.sdk.keys import load_account, read_passphrase
from pamchain.sdk.oracle.config import OracleConfig
from pamchain.sdk.oracle.daemon import OracleDaemon
from pamchain.sdk.oracle.executor import REMOVAL_RETRY, Executor, PayloadSource, Retry
from pamchain.sdk.oracle.follower import ChainView, Finality, Follower
from pamchain.sdk.oracle.journal import Journal
from pamchain.sdk.oracle.leavers import LeaverWatch
from pamchain.sdk.oracle.light_client import (
    NO_VERIFICATION,
    Anchor,
    Verification,
    VerifiedChain,
    build_light_client,
)
from pamchain.sdk.oracle.reconciler import Reconciler
from pamchain.sdk.oracle.reporter import Reporter
from pamchain.sdk.payloads.sealed import encryption_key, load_domain_secret
from pamchain.sdk.payloads.store import PayloadClient

log = logging.getLogger("pamchain.oracle")


def assemble(
    client: PamClient,
    oracle_account: LocalAccount,
    directory: Directory,
    journal_path: str | Path,
    *,
    domain: bytes,
    dc_id: bytes,
    id_map: StaticIdMap,
    start_block: int,
    resolver: IdResolver | None = None,
    payload_store_url: str | None = None,
    pseudonym_key: bytes | None = None,
    baseline: Mapping[bytes, frozenset[AccountRef]] | None = None,
    remove_drift: bool = False,
    finality: Finality = Finality(),
    retry: Retry = Retry(),
    removal_retry: Retry = REMOVAL_RETRY,
    removal_directory: Directory | None = None,
    late_after: float = 60.0,
    poll_interval: float = 0.5,
    reconcile_interval: float = 60.0,
    clock: Callable[[], float] = time.time,
    verification: Verification = NO_VERIFICATION,
    takeover_after: float = 0.0,
    encryption_secret: bytes | None = None,
    leavers_interval: float | None = 60.0,
    leavers_ou: str | None = None,
    heads_url: str | None = None,
) -> OracleDaemon:
    """Wire a daemon: ``client`` must act as ``oracle_account``.

    ``removal_directory`` is a second connection to the directory for the removal lane, so that nothing the
    other lane waits on (a slow reset, a hung connection) can hold a removal up.

    ``verification``: ``Verification("clique", anchor)`` makes the oracle check every block it acts on
    (light client); the default takes the endpoint's word and says so in the log.

    Every ``leavers_interval`` seconds (0: every tick; None: never) the oracle checks the AD accounts of the
    domain's principals and reports leavers (disabled, deleted, under ``leavers_ou``) on chain.

    ``heads_url``: the node's WebSocket; a tick starts at every ``newHeads`` notification (else only every
    ``poll_interval``).
    """
    journal = Journal(journal_path)
    resolver = resolver or id_map
    payloads = None
    purge = None
    if payload_store_url is not None:
        store = PayloadClient(payload_store_url)
        payloads = PayloadSource(
            lambda digest: store.get(oracle_account, digest),
            encryption_key(encryption_secret if encryption_secret is not None else oracle_account.key),
        )
        purge = lambda digest: store.delete(oracle_account, digest)  # noqa: E731
    follower = Follower(
        client,
        journal,
        domain,
        start_block=start_block,
        finality=finality,
        source=chain_view(client, journal_path, verification),
        hold=takeover_after,
    )
    executor = Executor(
        directory,
        journal,
        resolver,
        id_map,
        payloads=payloads,
        retry=retry,
        removal_retry=removal_retry,
        clock=clock,
        principal_active=lambda subject: client.principal(subject).status is PrincipalStatus.ACTIVE,
        dc_id=dc_id,
        receipted=client.receipt,
    )
    removal_executor = None
    if removal_directory is not None:
        removal_executor = Executor(
            removal_directory,
            journal,
            resolver,
            id_map,
            removal_retry=removal_retry,
            clock=clock,
            dc_id=dc_id,
        )
    reporter = Reporter(client, journal, dc_id, purge_payload=purge, clock=clock)
    reconciler = None
    if pseudonym_key is not None and id_map.groups:
        reconciler = Reconciler(
            directory,
            journal,
            resolver,
            id_map,
            pseudonym_key,
            domain,
            dc_id,
            baseline=baseline,
            remove=remove_drift,
            clock=clock,
        )
    leavers = None
    if leavers_interval is not None:
        leavers = LeaverWatch(
            directory, journal, resolver, domain, dc_id, known=id_map.accounts, leavers_ou=leavers_ou
        )
    return OracleDaemon(
        client,
        journal,
        follower,
        executor,
        reporter,
        reconciler,
        removal_executor=removal_executor,
        poll_interval=poll_interval,
        reconcile_interval=reconcile_interval,
        late_after=late_after,
        clock=clock,
        leavers=leavers,
        leavers_interval=leavers_interval or 0.0,
        heads_url=heads_url,
    )


def chain_view(client: PamClient, store: str | Path, verification: Verification) -> ChainView | None:
    """The follower's source of blocks: a light client over the client's endpoint, or None (trust it)."""
    if not verification.enabled:
        log.warning(
            "chain verification is off: the oracle acts on whatever its RPC endpoint says (dev chains only)"
        )
        return None
    if verification.anchor is None:
        raise ConfigError("verify = 'clique' needs a trusted anchor (a block number and its hash)")
    url = getattr(client.w3.provider, "endpoint_uri", None)
    if not url:
        raise ConfigError("chain verification needs an HTTP JSON-RPC endpoint")
    light = build_light_client(str(url), store, verification.anchor, epoch=verification.epoch)
    return VerifiedChain(light, client)


def anchor_for(config: OracleConfig, deployment: Deployment) -> Anchor | None:
    """The configured anchor, else the deployment block's hash when the deployment file records it."""
    if config.anchor_hash is not None:
        number = config.anchor_block if config.anchor_block is not None else deployment.block
        return Anchor.parse(number, config.anchor_hash)
    if deployment.block_hash is not None:
        return Anchor.parse(deployment.block, deployment.block_hash)
    return None


def build_directory(settings: Mapping[str, object], base: Path, *, demo: bool = False) -> Directory:
    """The directory named by ``[directory] kind``: ``ldap`` (production) or ``memory`` (``demo`` only: it
    changes nothing in AD, so an oracle on it would post receipts for changes that never happened)."""
    kind = settings.get("kind", "ldap")
    if kind == "memory":
        if not demo:
            raise ConfigError(
                '[directory] kind = "memory" changes nothing in Active Directory (its receipts would claim '
                'changes that never happened): use kind = "ldap", or start the oracle with --demo'
            )
        from pamchain.sdk.directory.memory import MemoryDirectory

        log.warning("demo mode: in-memory directory, nothing is applied to Active Directory")
        return MemoryDirectory()
    if kind == "ldap":
        from pamchain.sdk.directory.ldap import LdapConfig, LdapDirectory

        values = {k: v for k, v in settings.items() if k != "kind"}
        for key in ("password_file", "ca_file"):
            if values.get(key) is not None:
                values[key] = str((base / str(values[key])).resolve())
        try:
            return LdapDirectory(LdapConfig.from_mapping(values))
        except ValueError as exc:
            raise ConfigError(f"[directory]: {exc}") from exc
    raise ConfigError(f"unknown directory kind {kind!r} (ldap or memory)")


def _pseudonym_key(path: Path) -> bytes:
    """The deployment's pseudonym key, read one way for every id this oracle computes or resolves."""
    try:
        return read_pseudonym_key(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"[oracle] pseudonym_key_file: {exc}") from exc


def id_resolver(config: OracleConfig) -> IdResolver:
    """How this oracle maps an on-chain directory id to an AD account: its [accounts] table, then (with
    ``pseudonym_key_file``) the HMAC of each account's objectGUID - the ids `directory_ids` prints."""
    id_map = StaticIdMap.from_hex(config.accounts, config.groups)
    if config.pseudonym_key_file is None:
        return id_map
    return ChainedResolver(id_map, HmacGuidResolver(_pseudonym_key(config.pseudonym_key_file)))


def directory_ids(config: OracleConfig, config_dir: Path, names: Sequence[str]) -> dict[str, bytes]:
    """The on-chain directory id of each account ``names`` lists (sAMAccountName, case-insensitive), as this
    oracle computes it: HMAC-SHA256 of the account's objectGUID under ``pseudonym_key_file`` - what the council
    enrols. An unknown name is a :class:`ConfigError` naming it."""
    if config.pseudonym_key_file is None:
        raise ConfigError("[oracle] pseudonym_key_file is not set: directory ids are keyed by it")
    key = _pseudonym_key(config.pseudonym_key_file)
    wanted = {name.lower(): name for name in names}
    found: dict[str, bytes] = {}
    for account in build_directory(config.directory, config_dir).accounts():
        name = wanted.get(account.sam_account_name.lower())
        if name is not None:
            found[name] = pseudonymous_id(key, account.object_guid)
    missing = [name for name in names if name not in found]
    if missing:
        raise ConfigError(f"no such account in the directory: {', '.join(missing)}")
    return found


def from_config(
    config: OracleConfig, *, config_dir: Path, passphrase: str | None = None, demo: bool = False
) -> OracleDaemon:
    """A daemon as the configuration file describes it: keystore, node, deployment, directory, tables."""
    directory = build_directory(config.directory, config_dir, demo=demo)  # refused early if not for real
    secret = passphrase if passphrase is not None else read_passphrase(file=config.password_file)
    if secret is None:
        raise ConfigError(
            "no passphrase for the oracle keystore: set oracle.password_file or PAMCHAIN_PASSWORD"
        )
    account = load_account(config.keystore, secret)
    deployment = Deployment.load(config.deployment)
    client = PamClient.from_deployment(connect(config.rpc_url), deployment, account)
    id_map = StaticIdMap.from_hex(config.accounts, config.groups)
    pseudonym_key = _pseudonym_key(config.pseudonym_key_file) if config.pseudonym_key_file else None
    resolver = id_resolver(config)
    baseline = {
        bytes.fromhex(target.removeprefix("0x")): frozenset(AccountRef(m) for m in members)
        for target, members in config.baseline.items()
    }
    # The removal lane gets a connection of its own; an in-memory directory must stay one and the same.
    removal_directory = (
        None if config.directory.get("kind") == "memory" else build_directory(config.directory, config_dir)
    )
    verification = NO_VERIFICATION
    if config.verify == "clique":
        anchor = anchor_for(config, deployment)
        if anchor is None:
            raise ConfigError(
                "[chain] verify = 'clique' needs a trusted anchor: set anchor_hash (and anchor_block), or use "
                "a deployment file that records block_hash; verify = 'none' only for dev chains"
            )
        verification = Verification("clique", anchor, config.epoch)
    return assemble(
        client,
        account,
        directory,
        config.journal,
        domain=config.domain,
        dc_id=config.dc_id,
        id_map=id_map,
        start_block=deployment.block,
        resolver=resolver,
        payload_store_url=config.payload_store,
        pseudonym_key=pseudonym_key,
        baseline=baseline,
        remove_drift=config.remove_drift,
        finality=config.finality,
        retry=config.retry,
        removal_retry=config.removal_retry,
        removal_directory=removal_directory,
        late_after=config.late_after,
        takeover_after=config.takeover_after,
        encryption_secret=(
            None if config.encryption_key_file is None else load_domain_secret(config.encryption_key_file)
        ),
        poll_interval=config.poll_interval,
        reconcile_interval=config.reconcile_interval,
        verification=verification,
        leavers_interval=config.leavers_interval if config.watch_leavers else None,
        leavers_ou=config.leavers_ou,
        heads_url=config.ws_url,
    )
