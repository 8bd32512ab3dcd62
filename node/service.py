"""The node as a running service: startup -> block production loop + RPC + peers -> shutdown.

The composition root: the one module that knows every layer. It opens the chain, builds the core (pool and
signer), the producer (``sealing``), the RPC server and the p2p service, and connects them through one
``events.Events`` path; each of them sees the node only through the small interfaces of ``abc.py``.

Threads: one asyncio loop (HTTP/WebSocket, producer timing) and one *chain thread* that runs every py-evm
and SQLite operation in order. Funnelling all chain work through that single thread is what makes the
layers below lock-free and guarantees that readers only ever see committed blocks.

``run_node`` starts a node in-process on a free port (for the SDK, oracle and devnet tests);
``serve`` runs one in the foreground for the CLI with graceful shutdown on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .chain import DEFAULT_STATE_HISTORY, CallReader, Chain
from .chainfile import export_chain, import_chain
from .core import NodeCore, Signer
from .errors import ExecutionFailed, ExecutionReverted, NodeError, StorageError
from .events import Events
from .genesis import Genesis, load_genesis
from .metrics import NodeMetrics, head_age
from .node_rules import NodeRules
from .p2p.identity import Enode, NodeKey, load_or_create_node_key, parse_node_id
from .p2p.service import P2PService
from .p2p.wire import LinkLimits
from .records import CallRequest, SealedBlock
from .rpc.limits import RpcLimits
from .rpc.methods import RpcApi
from .rpc.server import DEFAULT_MAX_BODY, RpcServer
from .sealing import Producer
from .storage import open_store
from .txpool import PoolLimits, TxPool

log = logging.getLogger(__name__)
_T = TypeVar("_T")
SEAL_MODES = ("on-demand", "period", "none")
DEFAULT_SUGGESTED_TIP = 1_000_000  # wei
GENESIS_FILE = "genesis.json"


@dataclass(frozen=True)
class NodeConfig:
    """Everything about a node run that is not the genesis or the key."""

    datadir: Path | None = None  # None: throwaway in-memory store
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 0  # 0: pick a free port
    seal_mode: str = "on-demand"  # "on-demand" | "period" | "none" (never seal: import/serve only)
    period: int | None = None  # seconds; None: the genesis' clique.period, or 1 if that is 0
    allow_empty: bool = False  # seal empty blocks every period when idle
    cors_origin: str | None = None
    enable_debug: bool = False
    enable_admin: bool = False
    max_body: int = DEFAULT_MAX_BODY
    seal_check: bool = True  # False: import foreign chains without verifying Clique seals
    # wei; eth_maxPriorityFeePerGas. None: 1e6 (an uncongested private chain), or 0 on a free-gas chain, so
    # wallets and the SDK send zero-price transactions there without being told.
    suggested_tip: int | None = None
    pool_limits: PoolLimits = field(default_factory=PoolLimits)
    rpc_limits: RpcLimits = field(
        default_factory=RpcLimits
    )  # gas cap, timeouts, ranges, queues (rpc/limits.py)
    # Validator network (docs/network.md): p2p_port None = no peers; node_key None = <datadir>/nodekey.
    p2p_host: str = "127.0.0.1"
    p2p_port: int | None = None
    bootnodes: tuple[str, ...] = ()
    node_key: bytes | None = None
    p2p_limits: LinkLimits = field(default_factory=LinkLimits)  # handshake timeout, redial backoff, rates
    enable_voting: bool = False  # clique_propose / clique_discard over RPC
    enable_metrics: bool = False  # GET /metrics (Prometheus text) on the RPC port
    # Blocks below the head whose state is kept (older states are pruned); None: every state (an archive).
    state_history: int | None = DEFAULT_STATE_HISTORY

    def __post_init__(self) -> None:
        if self.seal_mode not in SEAL_MODES:
            raise NodeError(f"seal mode must be one of {', '.join(SEAL_MODES)}, not {self.seal_mode!r}")
        if self.state_history is not None and self.state_history < 1:
            raise NodeError("state history must be at least 1 block (or None: keep every state)")


class Node:
    """A running node; create, then ``await start()`` on the loop that will serve it."""

    def __init__(self, genesis: Genesis, signer_key: bytes | None, config: NodeConfig) -> None:
        self.genesis = genesis
        self.config = config
        self.signer = Signer.from_private_key(signer_key) if signer_key is not None else None
        if config.seal_mode != "none":
            if self.signer is None:
                raise NodeError("sealing needs a signer key (or run with seal mode 'none')")
            if genesis.clique is None:
                raise NodeError("this genesis has no Clique section: the node can only import, not seal")
            if self.signer.address not in genesis.signers:
                # Votes could add signers later; today pamchain never votes, so this is a misconfiguration.
                log.warning("0x%s is not a genesis signer", self.signer.address.hex())
        clique_period = genesis.clique.period if genesis.clique else 0
        self.period = config.period if config.period is not None else (clique_period or 1)
        if self.period < 1 and config.seal_mode != "none":
            # The producer's timers run on it: 0 would spin. A Clique period-0 chain seals on demand instead.
            raise NodeError(
                f"the block period must be at least 1 second, not {self.period} "
                "(on a Clique period-0 chain, seal on demand: --seal-on-demand)"
            )
        self.suggested_tip = (
            config.suggested_tip
            if config.suggested_tip is not None
            else (0 if genesis.zero_base_fee else DEFAULT_SUGGESTED_TIP)
        )
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pamchain-chain")
        # User calls run here, never on the chain thread: a slow eth_call must not delay a seal.
        self._calls = concurrent.futures.ThreadPoolExecutor(
            config.rpc_limits.call_workers, thread_name_prefix="pamchain-call"
        )
        self._call_readers = threading.local()
        self._loop_reader: CallReader | None = None  # the node rules' reader, used on the event loop only
        self.events = Events()  # pending transactions and new heads, to RPC subscribers and peers
        self.chain: Chain
        self.core: NodeCore
        self.rpc: RpcServer
        self.producer: Producer | None = None
        self.sealed_count = 0
        self.p2p: P2PService | None = None  # when config.p2p_port is set

    # ------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self.events.bind(asyncio.get_running_loop())

        def open_chain() -> None:
            store = open_store(self.config.datadir)
            try:
                self.chain = Chain(
                    self.genesis,
                    store,
                    seal_check=self.config.seal_check,
                    state_history=self.config.state_history,
                )
            except BaseException:
                store.close()
                raise

        await self.on_chain(open_chain)
        self.core = NodeCore(self.chain, TxPool(self.config.pool_limits), self.signer, self.events)
        self.producer = Producer(
            self.core,
            self,
            self.events,
            seal_mode=self.config.seal_mode,
            period=self.period,
            allow_empty=self.config.allow_empty,
            networked=self.config.p2p_port is not None,
            on_sealed=self._sealed,
            peers=lambda: len(self.p2p.peers) if self.p2p is not None else 0,
        )
        self.producer.listen()  # before RPC opens: a transaction submitted at once must wake it
        api = RpcApi(
            self,
            enable_debug=self.config.enable_debug,
            enable_admin=self.config.enable_admin,
            enable_voting=self.config.enable_voting,
            limits=self.config.rpc_limits,
        )
        self.metrics = self._metrics() if self.config.enable_metrics else None
        self.rpc = RpcServer(
            self,
            api,
            max_body=self.config.max_body,
            cors_origin=self.config.cors_origin,
            limits=self.config.rpc_limits,
            metrics=self.metrics,
            events=self.events,
        )
        await self.rpc.start(self.config.rpc_host, self.config.rpc_port)
        if self.config.p2p_port is not None:
            await self._start_p2p()
        self.producer.start()
        log.info(
            "node up: chain id %s, head #%s, rpc %s, sealing %s",
            self.genesis.chain_id,
            self.chain.head_record().number,
            self.url,
            self.config.seal_mode,
        )

    async def stop(self) -> None:
        """Drain: stop producing (an in-flight seal completes and commits), close RPC, close the store."""
        if self.producer is not None:
            self.producer.request_stop()
        if self.p2p is not None:
            await self.p2p.stop()
        if self.producer is not None:
            await self.producer.stop()
        if hasattr(self, "rpc"):
            await self.rpc.stop()
        # Calls in flight end by their own deadline; queued ones are dropped.
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._calls.shutdown(wait=True, cancel_futures=True)
        )
        if hasattr(self, "chain"):
            await self.on_chain(self.chain.store.close)
        self._executor.shutdown(wait=True)

    @property
    def url(self) -> str:
        return f"http://{self.config.rpc_host}:{self.rpc.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.rpc_host}:{self.rpc.port}"

    async def on_chain(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on the chain thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn)

    async def off_chain(self, fn: Callable[[CallReader], _T]) -> _T:
        """Run ``fn`` with this worker thread's ``CallReader`` (committed state), beside the chain thread."""

        def run() -> _T:
            reader = getattr(self._call_readers, "reader", None)
            if reader is None:
                reader = self._call_readers.reader = CallReader(self.chain)
            return reader.run(fn)

        return await asyncio.get_running_loop().run_in_executor(self._calls, run)

    # ------------------------------------------------------------------------------------- production
    async def _start_p2p(self) -> None:
        if self.config.node_key is not None:
            key = NodeKey.from_hex(self.config.node_key.hex())
        elif self.config.datadir is not None:
            key = load_or_create_node_key(self.config.datadir / "nodekey")
        else:
            key = NodeKey.generate()
        listed = self.genesis.node_allowlist
        allowlist = None if listed is None else frozenset(parse_node_id(n) for n in listed)
        bootnodes = [Enode.parse(b) for b in self.config.bootnodes]
        rules = NodeRules(
            allowlist, self.genesis.permissions.node_contract, self._head_hash, self._call_at_head
        )
        self.p2p = P2PService(
            self,
            key,
            self.config.p2p_host,
            self.config.p2p_port or 0,
            bootnodes,
            rules,
            self.config.p2p_limits,
            events=self.events,
        )
        await self.p2p.start()

    def _head_hash(self) -> bytes:
        return self.chain.head_record().hash

    def _call_at_head(self, to: bytes, data: bytes) -> tuple[bytes, bytes | None]:
        """A read-only call against the current head (the node rules' view of the chain), on the event loop's
        own ``CallReader``: the chain thread's objects are never touched from here."""
        if self._loop_reader is None:
            self._loop_reader = CallReader(self.chain)
        head = self.chain.head_record()
        try:
            return head.hash, self._loop_reader.call(CallRequest(to=to, data=data, gas=1_000_000), head)
        except (ExecutionReverted, ExecutionFailed):
            return head.hash, None

    async def seal_now(self, allow_empty: bool = True) -> SealedBlock | None:
        assert self.producer is not None, "the node is not started"
        return await self.producer.seal_now(allow_empty)

    def _sealed(self, sealed: SealedBlock) -> None:
        self.sealed_count += 1
        if self.metrics is not None:
            self.metrics.seal_seconds.observe(sealed.seconds)

    def _metrics(self) -> NodeMetrics:
        return NodeMetrics(
            {
                "head": lambda: float(self.chain.head_record().number),
                "finalized": lambda: float(self.chain.finalized_number()),
                "peers": lambda: float(len(self.p2p.peers)) if self.p2p is not None else 0.0,
                "pool": lambda: float(len(self.core.pool)),
                "head_age": head_age(lambda: self.chain.head_record().timestamp),
            }
        )


def _as_genesis(genesis: Genesis | Mapping[str, Any] | str | Path) -> Genesis:
    return genesis if isinstance(genesis, Genesis) else load_genesis(genesis)


def _as_key(key: Any) -> bytes | None:
    if key is None:
        return None
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return bytes.fromhex(key[2:] if key.startswith("0x") else key)
    if hasattr(key, "to_bytes"):  # eth_keys.PrivateKey
        return bytes(key.to_bytes())
    if hasattr(key, "key"):  # eth_account LocalAccount
        return bytes(key.key)
    raise NodeError(f"unsupported signer key type {type(key).__name__}")


class NodeHandle:
    """An in-process node running on a background thread (see ``run_node``)."""

    def __init__(self, node: Node, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        self.node = node
        self._loop = loop
        self._thread = thread

    @property
    def url(self) -> str:
        return self.node.url

    @property
    def ws_url(self) -> str:
        return self.node.ws_url

    @property
    def port(self) -> int:
        return self.node.rpc.port

    @property
    def chain_id(self) -> int:
        return self.node.genesis.chain_id

    @property
    def signer_address(self) -> str | None:
        return None if self.node.signer is None else "0x" + self.node.signer.address.hex()

    def run(self, coro_fn: Callable[[], Coroutine[Any, Any, _T]], timeout: float | None = 60) -> _T:
        return asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result(timeout)

    def seal(self, allow_empty: bool = True) -> SealedBlock | None:
        """Seal a block now (tests: deterministic block boundaries), whatever the seal mode."""
        return self.run(lambda: self.node.seal_now(allow_empty))

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.node.stop(), self._loop).result(60)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(60)


@contextlib.contextmanager
def run_node(
    genesis: Genesis | Mapping[str, Any] | str | Path,
    signer_key: Any = None,
    datadir: str | Path | None = None,
    *,
    seal_mode: str = "on-demand",
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> Iterator[NodeHandle]:
    """Run a node in this process on a free loopback port; yields a handle with ``.url``.

    ``genesis``: a ``Genesis``, a decoded genesis dict or a path. ``signer_key``: raw 32 bytes, hex, an
    eth_keys ``PrivateKey`` or an eth_account ``LocalAccount`` (None with ``seal_mode="none"``).
    ``options`` are further ``NodeConfig`` fields (``period``, ``allow_empty``, ``enable_debug``, ...).
    """
    config = NodeConfig(
        datadir=Path(datadir) if datadir is not None else None,
        rpc_host=host,
        rpc_port=port,
        seal_mode=seal_mode,
        **options,
    )
    node = Node(_as_genesis(genesis), _as_key(signer_key), config)
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[None] = concurrent.futures.Future()

    def main() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            try:
                await node.start()
            except BaseException as exc:
                await node.stop()
                ready.set_exception(exc)
                return
            ready.set_result(None)

        tasks = [loop.create_task(boot())]  # keep a reference: the loop holds tasks only weakly
        loop.run_forever()
        tasks.clear()
        loop.close()

    thread = threading.Thread(target=main, name="pamchain-node", daemon=True)
    thread.start()
    try:
        ready.result(60)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        raise
    handle = NodeHandle(node, loop, thread)
    try:
        yield handle
    finally:
        handle.stop()


# ---------------------------------------------------------------------------------------- CLI services
def init_datadir(datadir: str | Path, genesis_path: str | Path) -> tuple[Genesis, bytes]:
    """``node init``: validate the genesis, store a copy in the datadir and write block 0."""
    genesis = load_genesis(genesis_path)
    target = Path(datadir)
    target.mkdir(parents=True, exist_ok=True)
    copy = target / GENESIS_FILE
    if copy.exists() and json.loads(copy.read_text()) != dict(genesis.raw):
        raise StorageError(f"{copy} already holds a different genesis")
    copy.write_text(genesis.to_json())
    store = open_store(target)
    try:
        chain = Chain(genesis, store)
        return genesis, chain.genesis_hash
    finally:
        store.close()


def datadir_genesis(datadir: str | Path) -> Genesis:
    path = Path(datadir) / GENESIS_FILE
    if not path.exists():
        raise StorageError(
            f"{datadir} is not initialised: run `pamchain node init --datadir {datadir} --genesis G`"
        )
    return load_genesis(path)


def import_file(
    datadir: str | Path,
    chain_file: str | Path,
    seal_check: bool = True,
    state_history: int | None = DEFAULT_STATE_HISTORY,
) -> tuple[int, int]:
    """``node import``: returns (imported blocks, head number)."""
    genesis = datadir_genesis(datadir)
    store = open_store(datadir)
    try:
        chain = Chain(genesis, store, seal_check=seal_check, state_history=state_history)
        count = import_chain(chain, chain_file)
        return count, chain.head_record().number
    finally:
        store.close()


def export_file(datadir: str | Path, chain_file: str | Path, first: int = 1, last: int | None = None) -> int:
    genesis = datadir_genesis(datadir)
    store = open_store(datadir)
    try:
        chain = Chain(genesis, store, seal_check=False)
        with open(chain_file, "wb") as sink:
            return export_chain(chain, sink, first, last)
    finally:
        store.close()


def serve(
    genesis: Genesis,
    signer_key: bytes | None,
    config: NodeConfig,
    on_ready: Callable[[Node], None] | None = None,
) -> None:
    """Run a node in the foreground until SIGINT/SIGTERM: the first signal drains, a second forces exit."""

    async def main() -> None:
        node = Node(genesis, signer_key, config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = {"count": 0}

        def on_signal() -> None:
            signals["count"] += 1
            if signals["count"] > 1:
                os._exit(130)  # second signal: the operator insists
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await node.start()
        if on_ready is not None:
            on_ready(node)
        try:
            await stop.wait()
        finally:
            log.info("shutting down")
            await node.stop()

    asyncio.run(main())
