"""``pamchain node ...`` and ``python -m pamchain.node ...``: init a datadir, write a genesis, run the node,
import/export chains (thin; the logic is in the rest of node/).

The node's own commands live with the node so that its entry point needs nothing from the CLI package:
``pamchain`` (scripts/cli.py) adds this group to its own, never the reverse.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

# `pamchain node run` flags for the RPC limits (node/rpc/limits.py): flag -> (RpcLimits field, type, help).
RPC_LIMIT_FLAGS: dict[str, tuple[str, type, str]] = {
    "--rpc-gas-cap": ("gas_cap", int, "Most gas an eth_call / eth_estimateGas may use (0: no cap)."),
    "--rpc-evm-timeout": ("evm_timeout", float, "Seconds before a call is aborted (0: none)."),
    "--rpc-call-workers": ("call_workers", int, "Threads running user calls beside the chain thread."),
    "--rpc-batch-limit": ("batch_limit", int, "Most requests in one JSON-RPC batch (0: no limit)."),
    "--rpc-response-max-bytes": ("response_max_bytes", int, "Largest response or batch response (0: none)."),
    "--rpc-logs-block-range": ("logs_block_range", int, "Most blocks one eth_getLogs may span (0: any)."),
    "--rpc-logs-max-results": ("logs_max_results", int, "Most logs one query may return (0: any)."),
    "--rpc-max-filters": ("max_filters", int, "Most installed polling filters (0: no limit)."),
    "--rpc-filter-timeout": (
        "filter_timeout",
        float,
        "Seconds before an unpolled filter is dropped (0: never).",
    ),
    "--rpc-fee-history-percentiles": (
        "fee_history_percentiles",
        int,
        "Most reward percentiles in eth_feeHistory.",
    ),
    "--ws-max-connections": ("ws_max_connections", int, "Most open WebSocket connections (0: no limit)."),
    "--ws-max-subscriptions": (
        "ws_max_subscriptions",
        int,
        "Most subscriptions per connection (0: no limit).",
    ),
    "--ws-send-queue": (
        "ws_send_queue",
        int,
        "Messages queued for a client before it is dropped (0: no limit).",
    ),
    "--ws-write-timeout": (
        "ws_write_timeout",
        float,
        "Seconds a client may take to accept a message (0: none).",
    ),
    "--rpc-send-sync-timeout": (
        "send_sync_timeout",
        float,
        "Seconds eth_sendRawTransactionSync (EIP-7966) waits for the receipt: its default and its maximum.",
    ),
}


# `pamchain node run` flags for the txpool's price floor and free-gas limits (node/txpool.py, PoolLimits).
POOL_FLAGS: dict[str, tuple[str, type, str]] = {
    "--min-gas-price": (
        "min_gas_price",
        int,
        "Lowest tip (wei per gas) of a paying transaction; below it a transaction is zero-price, accepted only "
        "on a zeroBaseFee chain from permitted accounts.",
    ),
    "--txpool-free-per-account": (
        "free_per_sender",
        int,
        "Most pooled transactions of an account sending at zero price.",
    ),
    "--txpool-free-gas": ("free_gas_burst", int, "Gas an account may send at zero price at once."),
    "--txpool-free-window": (
        "free_gas_window",
        float,
        "Seconds in which that zero-price gas budget refills.",
    ),
}

# `pamchain node run` flags for the validator links (node/p2p/wire.py, LinkLimits).
P2P_FLAGS: dict[str, tuple[str, type, str]] = {
    "--p2p-handshake-timeout": (
        "handshake_timeout",
        float,
        "Seconds a peer link may take to connect and authenticate (raise it for high-latency links).",
    ),
    "--p2p-redial-max": (
        "redial_max",
        float,
        "Longest wait in seconds between dials of an unreachable or refusing validator (the backoff's cap).",
    ),
}


def _limit_options(flags: dict[str, tuple[str, type, str]], defaults: Any, prefix: str) -> Any:
    """Decorator adding one ``click`` option per entry of ``flags``, defaulting to ``defaults``' field; the
    keyword is the field's name after ``prefix`` (``run`` sorts them back into their limits object)."""

    def apply(fn: Any) -> Any:
        for flag, (name, kind, text) in reversed(flags.items()):
            fn = click.option(
                flag, prefix + name, type=kind, default=getattr(defaults, name), show_default=True, help=text
            )(fn)
        return fn

    return apply


def _pool_options(fn: Any) -> Any:
    from pamchain.node.txpool import PoolLimits

    return _limit_options(POOL_FLAGS, PoolLimits(), "pool_")(fn)


def _p2p_options(fn: Any) -> Any:
    from pamchain.node.p2p.wire import LinkLimits

    return _limit_options(P2P_FLAGS, LinkLimits(), "p2p_")(fn)


def _rpc_limit_options(fn: Any) -> Any:
    from pamchain.node.rpc.limits import RpcLimits

    return _limit_options(RPC_LIMIT_FLAGS, RpcLimits(), "")(fn)


def _state_options(fn: Any) -> Any:
    fn = click.option(
        "--archive",
        is_flag=True,
        help="Keep the state of every block (no pruning; the datadir grows faster).",
    )(fn)
    return click.option(
        "--state-history",
        default=128,  # chain/pruning.DEFAULT_STATE_HISTORY, spelled out: importing it would load py-evm for --help
        show_default=True,
        type=click.IntRange(min=1),
        help="Keep the state of this many recent blocks; older states are pruned (blocks, receipts, logs stay).",
    )(fn)


class NodeGroup(click.Group):
    """``python -m pamchain.node``'s error boundary, as ``pamchain``'s: a node error is one line and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from pamchain.node.errors import NodeError

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (NodeError, FileNotFoundError, PermissionError, ConnectionError) as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=NodeGroup)
def node() -> None:
    """Run and manage a pamchain validator node."""


@node.command()
@click.option("--datadir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--genesis", "genesis_path", required=True, type=click.Path(exists=True, dir_okay=False))
def init(datadir: Path, genesis_path: str) -> None:
    """Validate GENESIS, copy it into DATADIR and write block 0."""
    from pamchain.node.service import init_datadir

    genesis, block_hash = init_datadir(datadir, genesis_path)
    click.echo(f"initialised {datadir}: chain id {genesis.chain_id}, genesis 0x{block_hash.hex()}")


@node.command()
@click.option("--signer", "signers", multiple=True, required=True, help="Clique signer address (repeatable).")
@click.option("--chain-id", required=True, type=int)
@click.option("--alloc", "allocs", multiple=True, help="ADDR=WEI funded at genesis (repeatable).")
@click.option("--period", default=1, show_default=True, type=int, help="Clique block period in seconds.")
@click.option("--epoch", default=30000, show_default=True, type=int)
@click.option("--gas-limit", default=30_000_000, show_default=True, type=int)
@click.option(
    "--allow", "allowlist", multiple=True, help="Allowlisted sender (default: signers + funded accounts)."
)
@click.option(
    "--permission-contract", default=None, help="Address whose is_account_allowed(address) decides."
)
@click.option(
    "--deployer",
    default=None,
    help="The account that will deploy the pamchain suite: it alone may send at first, and its 2nd and 3rd "
    "contracts (PamChain, PamNetwork) become the account and node permission contracts. Excludes --allow and "
    "--permission-contract.",
)
@click.option(
    "--node",
    "nodes",
    multiple=True,
    help="pamchain:// address (or node id) allowed to peer until PamNetwork lists nodes (repeatable).",
)
@click.option(
    "--zero-base-fee/--no-zero-base-fee",
    default=None,
    help="Free gas: base fee 0 for good, permitted accounts transact without a balance (docs/node.md). "
    "Default: on with --deployer, off otherwise.",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def genesis(
    signers: tuple[str, ...],
    chain_id: int,
    allocs: tuple[str, ...],
    period: int,
    epoch: int,
    gas_limit: int,
    allowlist: tuple[str, ...],
    permission_contract: str | None,
    deployer: str | None,
    nodes: tuple[str, ...],
    zero_base_fee: bool | None,
    output: Path,
) -> None:
    """Write a geth-format genesis.json for a new network."""
    import json

    from pamchain.node.genesis import deployment_genesis, make_genesis

    alloc: dict[str, int] = {}
    for item in allocs:
        addr, sep, wei = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected ADDR=WEI, got {item!r}", param_hint="--alloc")
        try:
            alloc[addr] = int(wei, 0)
        except ValueError:
            raise click.BadParameter(f"not an amount: {wei!r}", param_hint="--alloc") from None
    options: dict[str, Any] = {"period": period, "epoch": epoch, "gas_limit": gas_limit}
    if nodes:
        options["node_allowlist"] = list(nodes)
    if zero_base_fee is not None:
        options["zero_base_fee"] = zero_base_fee
    if deployer is not None:
        if allowlist or permission_contract:
            raise click.UsageError("--deployer sets the allowlist and the permission contracts itself")
        doc = deployment_genesis(list(signers), chain_id, alloc, deployer, **options)
    else:
        doc = make_genesis(
            list(signers),
            chain_id,
            alloc,
            allowlist=list(allowlist) if allowlist else None,
            permission_contract=permission_contract,
            **options,
        )
    output.write_text(json.dumps(doc, indent=2) + "\n")
    click.echo(f"wrote {output}")


@node.command()
@click.option("--datadir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--keystore", type=click.Path(exists=True, dir_okay=False), help="Signer keystore (v3 JSON).")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False))
@click.option("--rpc-host", default="127.0.0.1", show_default=True)
@click.option("--rpc-port", default=8545, show_default=True, type=int)
@click.option(
    "--period", default=None, type=int, help="Block period in seconds (default: genesis clique.period)."
)
@click.option("--seal-on-demand", is_flag=True, help="Seal as soon as transactions are pending.")
@click.option("--no-seal", is_flag=True, help="Do not seal (serve an imported chain read-only).")
@click.option("--allow-empty", is_flag=True, help="Seal empty blocks when idle.")
@click.option("--cors-origin", default=None, help="Allow this browser origin (CORS is off by default).")
@click.option("--rpc-debug", is_flag=True, help="Enable the debug_* namespace.")
@click.option("--rpc-admin", is_flag=True, help="Enable the admin_* namespace.")
@click.option("--metrics", is_flag=True, help="Serve Prometheus metrics at GET /metrics on the RPC port.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log line format.",
)
@click.option(
    "--no-seal-check", is_flag=True, help="Accept blocks without verifying Clique seals (foreign chains)."
)
@click.option(
    "--p2p-port", default=None, type=int, help="Listen for validator peers on this port (enables p2p)."
)
@click.option("--p2p-host", default="127.0.0.1", show_default=True)
@click.option("--bootnodes", default="", help="Comma-separated pamchain://<pubkey>@host:port peers to dial.")
@click.option(
    "--node-key",
    "node_key_file",
    type=click.Path(dir_okay=False),
    help="Node key file (default DATADIR/nodekey).",
)
@_state_options
@click.option("--rpc-clique-votes", is_flag=True, help="Enable clique_propose / clique_discard.")
@click.option(
    "--rpc-max-body", default=5 * 1024 * 1024, show_default=True, type=int, help="Largest request body."
)
@_rpc_limit_options
@_pool_options
@_p2p_options
@click.option("-v", "--verbose", count=True)
def run(
    datadir: Path,
    keystore: str | None,
    password_file: str | None,
    rpc_host: str,
    rpc_port: int,
    period: int | None,
    seal_on_demand: bool,
    no_seal: bool,
    allow_empty: bool,
    cors_origin: str | None,
    rpc_debug: bool,
    rpc_admin: bool,
    metrics: bool,
    log_format: str,
    no_seal_check: bool,
    p2p_port: int | None,
    p2p_host: str,
    bootnodes: str,
    node_key_file: str | None,
    rpc_clique_votes: bool,
    rpc_max_body: int,
    verbose: int,
    state_history: int,
    archive: bool,
    **limits: Any,
) -> None:
    """Run the node until SIGINT/SIGTERM."""
    from pamchain.node.p2p.wire import LinkLimits
    from pamchain.node.rpc.limits import RpcLimits
    from pamchain.node.service import NodeConfig, datadir_genesis, serve
    from pamchain.node.txpool import PoolLimits
    from pamchain.sdk.keys import load_key, read_passphrase

    pool = {name[len("pool_") :]: limits.pop(name) for name in list(limits) if name.startswith("pool_")}
    link = {name[len("p2p_") :]: limits.pop(name) for name in list(limits) if name.startswith("p2p_")}

    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if log_format == "json":  # one JSON object per line, as the oracle writes (journald, log shippers)
        from pamchain.sdk.oracle.logs import JsonFormatter

        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    genesis = datadir_genesis(datadir)
    key = None
    if keystore is not None:
        password = read_passphrase(file=password_file)
        if password is None:
            password = click.prompt("keystore password", hide_input=True, err=True)
        key = load_key(keystore, password)
    mode = "none" if no_seal or keystore is None else ("on-demand" if seal_on_demand else "period")
    config = NodeConfig(
        datadir=datadir,
        rpc_host=rpc_host,
        rpc_port=rpc_port,
        seal_mode=mode,
        period=period,
        allow_empty=allow_empty,
        cors_origin=cors_origin,
        enable_debug=rpc_debug,
        enable_admin=rpc_admin,
        enable_metrics=metrics,
        seal_check=not no_seal_check,
        p2p_host=p2p_host,
        p2p_port=p2p_port,
        bootnodes=tuple(b.strip() for b in bootnodes.split(",") if b.strip()),
        node_key=_node_key(node_key_file),
        enable_voting=rpc_clique_votes,
        max_body=rpc_max_body,
        rpc_limits=_limits(RpcLimits, limits),
        pool_limits=_limits(PoolLimits, pool),
        p2p_limits=_limits(LinkLimits, link),
        state_history=None if archive else state_history,
    )

    def ready(n: Any) -> None:
        click.echo(f"listening on {n.url} (chain id {genesis.chain_id})", err=True)
        if n.p2p is not None:
            click.echo(f"p2p {n.p2p.enode}", err=True)

    serve(genesis, key, config, on_ready=ready)


def _limits(cls: Any, values: dict[str, Any]) -> Any:
    try:
        return cls(**values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _node_key(path: str | None) -> bytes | None:
    if path is None:
        return None
    from pamchain.node.p2p.identity import load_or_create_node_key

    return bytes(load_or_create_node_key(path).private.to_bytes())


@node.command("node-id")
@click.option("--node-key", "node_key_file", required=True, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", required=True, type=int)
def node_id(node_key_file: str, host: str, port: int) -> None:
    """Print this node's pamchain:// address (creating the node key file if missing)."""
    from pamchain.node.p2p.identity import Enode, load_or_create_node_key

    click.echo(str(Enode(load_or_create_node_key(node_key_file).node_id, host, port)))


@node.command("import")
@click.option("--datadir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-seal-check", is_flag=True, help="Skip Clique seal checks (chains from other networks).")
@_state_options
@click.argument("chain_file", type=click.Path(exists=True, dir_okay=False))
def import_(datadir: Path, no_seal_check: bool, state_history: int, archive: bool, chain_file: str) -> None:
    """Import an RLP chain file (geth import format)."""
    from pamchain.node.service import import_file

    count, head = import_file(
        datadir, chain_file, seal_check=not no_seal_check, state_history=None if archive else state_history
    )
    click.echo(f"imported {count} blocks; head #{head}")


@node.command("export")
@click.option("--datadir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--first", default=1, show_default=True, type=int)
@click.option("--last", default=None, type=int)
@click.argument("chain_file", type=click.Path(dir_okay=False))
def export(datadir: Path, first: int, last: int | None, chain_file: str) -> None:
    """Export canonical blocks as an RLP chain file (geth export format)."""
    from pamchain.node.service import export_file

    count = export_file(datadir, chain_file, first, last)
    click.echo(f"exported {count} blocks")
