# Over 500 lines on purpose: one method table (debug_* and eth_simulateV1 live in debug_trace.py and simulate.py).
"""The JSON-RPC method table: ``eth_*``, ``net_*``, ``web3_*``, ``clique_*``, ``txpool_*`` (+ opt-in ``debug_*``, ``admin_*``).

Each method decodes its params, then runs one closure on the chain thread (``node.on_chain``) that reads
the chain and returns plain JSON, so a response is computed from a single consistent head.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
from collections.abc import Awaitable, Callable
from typing import Any

from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from ..abc import RpcBackend
from ..calls import CallBudget
from ..chain import CallReader, Chain, PreparedTx
from ..errors import (
    AccountNotAllowed,
    ExecutionFailed,
    ExecutionReverted,
    ExecutionTimeout,
    NodeError,
    NotFound,
    PoolLimitExceeded,
    TransactionRejected,
)
from ..records import HeaderRecord, PoolTx
from . import clique as clique_rpc
from . import format as fmt
from . import node_info
from . import params as p
from .debug_trace import TraceApi
from .errors import EXECUTION_REVERTED, INVALID_PARAMS, LIMIT_EXCEEDED, SERVER_ERROR, InvalidParams, RpcError
from .filters import Filter, FilterRegistry, LogCriteria
from .limits import RpcLimits
from .simulate import SimulateApi

CLIENT_VERSION = "pamchain/0.1.0/py-evm-0.12.1b1/python3.11"
# Blocks per chain-thread job for range queries (eth_getLogs, eth_feeHistory): sealing waits at most one slice.
CHAIN_SLICE = 256
# Slots one eth_getStorageValues may read (geth's limit), so one request cannot hold the chain thread for long.
MAX_STORAGE_VALUES = 1024
ACCOUNT_NOT_ALLOWED = -32007  # in the -32000 family; "permission denied" as Besu reports permissioning
Method = Callable[[list[Any]], Awaitable[Any]]


def _outcome(fn: Callable[[], Any]) -> Any:
    """``fn()``, or the JSON-RPC error its admission failure maps to (returned, not raised)."""
    try:
        return fn()
    except AccountNotAllowed as exc:
        return RpcError(ACCOUNT_NOT_ALLOWED, str(exc))
    except PoolLimitExceeded as exc:  # EIP-1474's "limit exceeded": the request was fine, retry later
        retry = None if exc.retry_after is None else {"retryAfter": math.ceil(exc.retry_after)}
        return RpcError(LIMIT_EXCEEDED, str(exc), retry)
    except TransactionRejected as exc:
        return RpcError(SERVER_ERROR, str(exc))
    except Exception as exc:
        return exc


class RpcApi(TraceApi, SimulateApi):
    """Binds method names to implementations over one node (``abc.RpcBackend``; tracing in ``debug_trace.py``,
    ``eth_simulateV1`` in ``simulate.py``)."""

    def __init__(
        self,
        node: RpcBackend,
        *,
        enable_debug: bool = False,
        enable_admin: bool = False,
        enable_voting: bool = False,
        limits: RpcLimits | None = None,
    ) -> None:
        self.node = node
        self.limits = limits or RpcLimits()
        self.filters = FilterRegistry(self.limits.max_filters, self.limits.filter_timeout)
        self.methods: dict[str, Method] = {}
        for name in dir(self):
            if (
                name.startswith(("eth_", "net_", "web3_", "clique_", "txpool_"))
                or (name.startswith("debug_") and enable_debug)
                or (name.startswith("admin_") and enable_admin)
            ):
                self.methods[name] = getattr(self, name)
        self._next_head: asyncio.Future[None] | None = None  # resolved by the next head (on_head)
        if not enable_voting:  # votes change who runs the chain: opt-in
            for name in ("clique_propose", "clique_discard"):
                self.methods.pop(name, None)

    @property
    def chain(self) -> Chain:
        return self.node.chain

    async def _on_chain(self, fn: Callable[[], Any]) -> Any:
        return await self.node.on_chain(fn)

    # --------------------------------------------------------------------------------------- resolution
    def _header(self, ref: p.BlockRef) -> HeaderRecord:
        """The block of a state query; raises RpcError like geth when it does not exist."""
        chain = self.chain
        if ref.hash is not None:
            try:
                header = chain.header_by_hash(ref.hash)
            except NotFound:
                raise RpcError(SERVER_ERROR, "header for hash not found") from None
            if ref.require_canonical and not chain.is_canonical(header):
                raise RpcError(SERVER_ERROR, "hash is not currently canonical")
            return header
        if ref.tag == "earliest":
            return chain.header_by_number(0)
        if ref.tag in ("safe", "finalized"):
            return chain.finalized_record()  # node/finality.py; with one signer this is the head
        if ref.tag is not None:
            return chain.head_record()
        assert ref.number is not None
        try:
            return chain.header_by_number(ref.number)
        except NotFound:
            raise RpcError(SERVER_ERROR, "header not found") from None

    def _exec_header(self, ref: p.BlockRef) -> HeaderRecord:
        """The block to execute a call on: for ``pending``, the next block (its timestamp is the clock's)."""
        if ref.tag == "pending":
            return self.chain.pending_header()
        return self._header(ref)

    def _header_or_none(self, ref: p.BlockRef) -> HeaderRecord | None:
        try:
            return self._header(ref)
        except RpcError:
            return None

    def _number(self, ref: p.BlockRef) -> int:
        if ref.tag == "earliest":
            return 0
        if ref.tag in ("safe", "finalized"):
            return self.chain.finalized_number()
        if ref.tag is not None:
            return self.chain.head_record().number
        if ref.hash is not None:
            return self._header(ref).number
        assert ref.number is not None
        return ref.number

    # --------------------------------------------------------------------------------------------- misc
    async def web3_clientVersion(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return CLIENT_VERSION

    async def web3_sha3(self, params: list[Any]) -> Any:
        (payload,) = p.expect(params, 1, 1)
        return fmt.d(keccak(p.data(payload, "argument 0")))

    async def net_version(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return str(self.node.genesis.chain_id)

    async def net_listening(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return True

    async def net_peerCount(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return fmt.q(len(self.node.p2p.peers) if self.node.p2p is not None else 0)

    async def eth_chainId(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return fmt.q(self.node.genesis.chain_id)

    async def eth_syncing(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        state = self.node.p2p.sync_status if self.node.p2p is not None else None
        if state is None or not state.active:
            return False
        return {
            "startingBlock": fmt.q(state.starting_block),
            "currentBlock": fmt.q(self.chain.head_record().number),
            "highestBlock": fmt.q(max(state.highest_block, self.chain.head_record().number)),
        }

    async def eth_accounts(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return []  # the node holds no user keys: clients sign locally

    async def eth_blockNumber(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return fmt.q(self.chain.head_record().number)

    # ------------------------------------------------------------------------------------------- fees
    async def eth_gasPrice(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        base = await self._on_chain(self.chain.base_fee_next)
        return fmt.q((base or 0) + self.node.suggested_tip)

    async def eth_maxPriorityFeePerGas(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return fmt.q(self.node.suggested_tip)

    async def eth_blobBaseFee(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return fmt.q(await self._on_chain(lambda: self.chain.blob_base_fee(self.chain.head_record())))

    async def eth_baseFee(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        base = await self._on_chain(self.chain.base_fee_next)
        return None if base is None else fmt.q(base)

    async def eth_config(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return await self._on_chain(lambda: node_info.config_json(self.chain, self.chain.head_record()))

    async def eth_capabilities(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return await self._on_chain(lambda: node_info.capabilities_json(self.chain.head_record()))

    def _percentiles(self, raw: Any) -> list[float]:
        """geth's checks: at most the limit (100), each in [0, 100], strictly increasing."""
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw
        ):
            raise InvalidParams("invalid argument 2: expected a list of numbers")
        limit = self.limits.fee_history_percentiles
        if limit and len(raw) > limit:
            raise InvalidParams(f"invalid reward percentile: over the query limit {limit}")
        for i, pct in enumerate(raw):
            if pct < 0 or pct > 100:
                raise InvalidParams(f"invalid reward percentile: {pct:f}")
            if i > 0 and pct <= raw[i - 1]:
                raise InvalidParams(f"invalid reward percentile: #{i - 1}:{raw[i - 1]:f} >= #{i}:{pct:f}")
        return raw

    async def eth_feeHistory(self, params: list[Any]) -> Any:
        count_raw, newest_raw, percentiles_raw = p.expect(params, 2, 3)
        if isinstance(count_raw, int) and not isinstance(count_raw, bool):
            count = count_raw
        else:
            count = p.quantity(count_raw, "argument 0")
        newest = p.block_ref(newest_raw, "argument 1", allow_hash=False)
        percentiles = self._percentiles(percentiles_raw)
        if self.limits.fee_history_blocks:
            count = min(count, self.limits.fee_history_blocks)
        if count == 0:
            return {"oldestBlock": "0x0", "baseFeePerGas": [], "gasUsedRatio": []}
        last = await self._on_chain(lambda: min(self._number(newest), self.chain.head_record().number))
        first = max(0, last - count + 1)
        base_fees: list[str] = []
        ratios: list[float] = []
        rewards: list[list[str]] = []
        blob_fees: list[str] = []
        blob_ratios: list[float] = []
        header: HeaderRecord | None = None

        def run(lo: int, hi: int) -> HeaderRecord | None:
            header = None
            for n in range(lo, hi + 1):
                header = self.chain.header_by_number(n)
                base_fees.append(fmt.q(header.base_fee or 0))
                ratios.append(header.gas_used / header.gas_limit if header.gas_limit else 0)
                blob_fee = self.chain.header_blob_base_fee(header)
                # geth reports blob figures for every block, zero before Cancun
                blob_fees.append(fmt.q(blob_fee or 0))
                limit = self.chain.blob_limits(header)
                blob_ratios.append(
                    (header.blob_gas_used or 0) / limit if blob_fee is not None and limit else 0
                )
                if percentiles:
                    rewards.append(self._rewards(header, percentiles))
            return header

        # In slices, so a long history never holds the chain thread (and sealing) for long.
        for lo in range(first, last + 1, CHAIN_SLICE):
            header = await self._on_chain(lambda lo=lo: run(lo, min(lo + CHAIN_SLICE - 1, last)))  # type: ignore[misc]
        assert header is not None
        last_header = header
        tail = await self._on_chain(
            lambda: (
                self.chain.next_base_fee(last_header) or 0,
                self.chain.blob_base_fee(last_header) if blob_fees else None,
            )
        )
        base_fees.append(fmt.q(tail[0]))
        out: dict[str, Any] = {"oldestBlock": fmt.q(first)}
        if percentiles:
            out["reward"] = rewards
        if blob_fees:
            blob_fees.append(fmt.q(tail[1]))
            out["baseFeePerBlobGas"] = blob_fees
            out["blobGasUsedRatio"] = blob_ratios
        out["baseFeePerGas"] = base_fees
        out["gasUsedRatio"] = ratios
        return out

    def _rewards(self, header: HeaderRecord, percentiles: list[float]) -> list[str]:
        receipts = self.chain.block_receipts(header)
        if not receipts:
            return ["0x0" for _ in percentiles]
        base = header.base_fee or 0
        tips = sorted((r.effective_gas_price - base, r.gas_used) for r in receipts)
        out = []
        total = header.gas_used
        for pct in percentiles:
            threshold = total * pct / 100
            acc = 0
            chosen = tips[-1][0]
            for tip, used in tips:
                acc += used
                if acc >= threshold:
                    chosen = tip
                    break
            out.append(fmt.q(max(chosen, 0)))
        return out

    # ------------------------------------------------------------------------------------------- state
    async def eth_getBalance(self, params: list[Any]) -> Any:
        who, ref = p.expect(params, 1, 2)
        address = p.address(who, "argument 0")
        block = p.block_ref_or_hash(ref if ref is not None else "latest", "argument 1")
        return await self._on_chain(lambda: fmt.q(self.chain.balance(address, self._header(block))))

    async def eth_getCode(self, params: list[Any]) -> Any:
        who, ref = p.expect(params, 1, 2)
        address = p.address(who, "argument 0")
        block = p.block_ref_or_hash(ref if ref is not None else "latest", "argument 1")
        return await self._on_chain(lambda: fmt.d(self.chain.code(address, self._header(block))))

    async def eth_getStorageAt(self, params: list[Any]) -> Any:
        who, slot_raw, ref = p.expect(params, 2, 3)
        address = p.address(who, "argument 0")
        slot = _storage_key(slot_raw)
        block = p.block_ref_or_hash(ref if ref is not None else "latest", "argument 2")
        return await self._on_chain(
            lambda: fmt.h256(self.chain.storage_at(address, slot, self._header(block)))
        )

    async def eth_getStorageValues(self, params: list[Any]) -> Any:
        """Many slots of many accounts at one block: ``{address: [slot, ...]}`` -> ``{address: [value, ...]}``."""
        request_raw, ref = p.expect(params, 1, 2)
        if not isinstance(request_raw, dict):
            raise InvalidParams("invalid argument 0: expected an object of address to storage keys")
        if not request_raw:
            raise InvalidParams("empty request")
        request: list[tuple[str, bytes, list[int]]] = []
        for who, slots_raw in request_raw.items():
            if not isinstance(slots_raw, list):
                raise InvalidParams("invalid argument 0: expected a list of storage keys per address")
            request.append((who.lower(), p.address(who, "argument 0"), [_storage_key(s) for s in slots_raw]))
        total = sum(len(slots) for _, _, slots in request)
        if total > MAX_STORAGE_VALUES:
            raise InvalidParams(f"too many storage keys requested ({total}, limit {MAX_STORAGE_VALUES})")
        block = p.block_ref_or_hash(ref if ref is not None else "latest", "argument 1")

        def run() -> Any:
            header = self._header(block)
            return {
                key: [fmt.h256(self.chain.storage_at(address, slot, header)) for slot in slots]
                for key, address, slots in request
            }

        return await self._on_chain(run)

    async def eth_getTransactionCount(self, params: list[Any]) -> Any:
        who, ref = p.expect(params, 1, 2)
        address = p.address(who, "argument 0")
        block = p.block_ref_or_hash(ref if ref is not None else "latest", "argument 1")

        def run() -> Any:
            nonce = self.chain.nonce(address, self._header(block))
            if block.tag == "pending":
                nonce = self.node.core.pool.next_nonce(address, nonce)
            return fmt.q(nonce)

        return await self._on_chain(run)

    async def eth_getProof(self, params: list[Any]) -> Any:
        who, slots_raw, ref = p.expect(params, 2, 3)
        address = p.address(who, "argument 0")
        if not isinstance(slots_raw, list):
            raise InvalidParams("invalid argument 1: expected a list of storage keys")
        slots = [_storage_key(s) for s in slots_raw]
        block = p.block_ref_or_hash(ref if ref is not None else "latest", "argument 2")

        def run() -> Any:
            proof = self.chain.account_proof(address, slots, self._header(block))
            return {
                "address": fmt.d(proof["address"]),
                "accountProof": [fmt.d(n) for n in proof["accountProof"]],
                "balance": fmt.q(proof["balance"]),
                "codeHash": fmt.d(proof["codeHash"]),
                "nonce": fmt.q(proof["nonce"]),
                "storageHash": fmt.d(proof["storageHash"]),
                "storageProof": [
                    {
                        "key": _slot_json(slots_raw[i]),
                        "value": fmt.q(s["value"]),
                        "proof": [fmt.d(n) for n in s["proof"]],
                    }
                    for i, s in enumerate(proof["storageProof"])
                ],
            }

        return await self._on_chain(run)

    # -------------------------------------------------------------------------------------- execution
    def _budget(self) -> CallBudget:
        return CallBudget.starting_now(self.limits.gas_cap, self.limits.evm_timeout)

    async def _user_call(
        self, ref: p.BlockRef, run: Callable[[CallReader, HeaderRecord, CallBudget], Any]
    ) -> Any:
        """Resolve the block, then run ``run(reader, block, budget)`` off the chain thread.

        ``latest`` and ``pending`` are resolved here: the head record is readable from any thread and its
        state is committed before it becomes the head, so a call on it never queues behind a block being
        sealed. Other blocks are looked up on the chain thread (its caches and store)."""
        budget = self._budget()
        if ref.tag == "latest":
            header = self.chain.head_record()
        elif ref.tag == "pending":
            header = self.chain.pending_header()  # the next block's header, from the head alone
        else:
            header = await self._on_chain(lambda: self._exec_header(ref))
        return await self.node.off_chain(lambda reader: _execute(lambda: run(reader, header, budget)))

    async def eth_call(self, params: list[Any]) -> Any:
        tx, ref, *_overrides = p.expect(params, 1, 4)
        request = p.call_request(tx, "argument 0")
        block = p.block_ref_or_hash(ref if ref is not None else "latest", "argument 1")
        return await self._user_call(
            block, lambda reader, at, budget: fmt.d(reader.call(request, at, budget))
        )

    async def eth_estimateGas(self, params: list[Any]) -> Any:
        tx, ref, *_overrides = p.expect(params, 1, 3)
        request = p.call_request(tx, "argument 0")
        block = p.block_ref_or_hash(ref if ref is not None else "latest", "argument 1")
        return await self._user_call(
            block, lambda reader, at, budget: fmt.q(reader.estimate_gas(request, at, budget))
        )

    async def eth_createAccessList(self, params: list[Any]) -> Any:
        tx, ref = p.expect(params, 1, 2)
        request = p.call_request(tx, "argument 0")
        block = p.block_ref_or_hash(ref if ref is not None else "latest", "argument 1")

        def run(reader: CallReader, header: HeaderRecord, budget: CallBudget) -> Any:
            entries, gas_used, error = reader.create_access_list(request, header, budget)
            result: dict[str, Any] = {
                "accessList": [
                    {"address": fmt.d(e.address), "storageKeys": [fmt.h256(k) for k in e.storage_keys]}
                    for e in entries
                ],
                "gasUsed": fmt.q(gas_used),
            }
            if error is not None:
                result["error"] = error  # geth reports a reverting call beside the list, not as an RPC error
            return result

        return await self._user_call(block, run)

    async def eth_sendRawTransaction(self, params: list[Any]) -> Any:
        (outcome,) = await self.send_raw_transactions([params])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def send_raw_transactions(self, batch: list[list[Any]]) -> list[Any]:
        """``eth_sendRawTransaction`` for each params list of ``batch``, in order; each entry is the result (the
        hash) or the exception that request raises. Decoding and sender recovery of them all in one worker job,
        their admission in one chain-thread job: a batch of 100 transactions crosses threads twice, not 200
        times (each crossing waited for the GIL while a block was being sealed)."""
        core = self.node.core
        raws: list[bytes | Exception] = []
        for params in batch:
            try:
                (raw_hex,) = p.expect(params, 1, 1)
                raws.append(p.data(raw_hex, "argument 0"))
            except Exception as exc:
                raws.append(exc)

        def prepare(raw: bytes) -> Any:
            return _outcome(lambda: core.prepare(raw))

        def submit(raw: bytes, ready: PreparedTx) -> Any:
            return _outcome(lambda: fmt.d(core.submit(raw, prepared=ready)))  # announced: PendingTransaction

        # Decoding and sender recovery need no chain state: a worker thread does them, not the chain thread.
        prepared = await asyncio.get_running_loop().run_in_executor(
            None, lambda: [raw if isinstance(raw, Exception) else prepare(raw) for raw in raws]
        )
        return list(
            await self._on_chain(
                lambda: [
                    ready if isinstance(ready, Exception) else submit(raw, ready)  # type: ignore[arg-type]
                    for raw, ready in zip(raws, prepared, strict=True)
                ]
            )
        )

    async def eth_sendRawTransactionSync(self, params: list[Any]) -> Any:
        """EIP-7966: submit as ``eth_sendRawTransaction`` does, then answer with the receipt as soon as a block
        holds the transaction (woken by the new head, no polling), or error 4 with the hash after the timeout
        (the client's, in ms, when it is a positive one within ``send_sync_timeout``; that, else), or error 5 at
        once when the transaction waits behind a missing nonce."""
        raw_hex, timeout_raw = p.expect(params, 1, 2)
        timeout = self._sync_timeout(timeout_raw)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        head = self._head_future()  # taken before the transaction can be sealed: that head wakes the wait
        (outcome,) = await self.send_raw_transactions([[raw_hex]])
        if isinstance(outcome, Exception):
            raise outcome
        tx_hash = bytes.fromhex(outcome[2:])
        core = self.node.core

        def look() -> tuple[Any, int | None]:
            """The receipt, if a block holds the transaction; else the account's next nonce when the
            transaction waits behind a gap (one chain-thread job for both)."""
            record = self.chain.receipt(tx_hash)
            tx = None if record is not None else core.pool.get(tx_hash)
            if tx is None:
                return record, None  # sealed, or dropped (then no receipt comes: the timeout says so)
            expected = core.pool.next_nonce(tx.sender, core.view().nonce(tx.sender))
            return None, expected if expected < tx.nonce else None

        while True:
            record, expected = await self._on_chain(look)
            if record is not None:
                return fmt.receipt(record)
            if expected is not None:
                raise RpcError(
                    5,
                    "The transaction was added to the mempool but wasn't processed due to a missing nonce: "
                    f"the account's next nonce is {hex(expected)}.",
                    outcome,
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RpcError(
                    4,
                    f"The transaction was added to the mempool but wasn't processed in {timeout:g}s.",
                    outcome,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(head), remaining)
            head = self._head_future()

    def _sync_timeout(self, raw: Any) -> float:
        """EIP-7966: a positive number of milliseconds within the node's maximum, else the node's default."""
        limit = self.limits.send_sync_timeout
        try:
            ms = int(raw, 16) if isinstance(raw, str) else raw
        except ValueError:
            return limit
        if isinstance(ms, bool) or not isinstance(ms, int) or ms <= 0 or ms / 1000 > limit:
            return limit
        return ms / 1000

    def _head_future(self) -> asyncio.Future[None]:
        if self._next_head is None or self._next_head.done():
            self._next_head = asyncio.get_running_loop().create_future()
        return self._next_head

    def on_head(self) -> None:
        """The canonical head moved (the server's event handler, on the loop): wake the receipt waits."""
        if self._next_head is not None and not self._next_head.done():
            self._next_head.set_result(None)
        self._next_head = None

    # ----------------------------------------------------------------------------------------- blocks
    def _block_json(self, header: HeaderRecord, full: bool) -> Any:
        record = self.chain.block_record(header, full)
        return fmt.block(record, full, () if full else self.chain.tx_hashes(header))

    async def eth_getBlockByNumber(self, params: list[Any]) -> Any:
        ref_raw, full_raw = p.expect(params, 2, 2)
        ref = p.block_ref(ref_raw, "argument 0", allow_hash=False)
        full = p.boolean(full_raw, "argument 1")

        def run() -> Any:
            header = self._header_or_none(ref)
            return None if header is None else self._block_json(header, full)

        return await self._on_chain(run)

    async def eth_getBlockByHash(self, params: list[Any]) -> Any:
        hash_raw, full_raw = p.expect(params, 2, 2)
        block_hash = p.hash32(hash_raw, "argument 0")
        full = p.boolean(full_raw, "argument 1")

        def run() -> Any:
            header = self._header_or_none(p.BlockRef(hash=block_hash))
            return None if header is None else self._block_json(header, full)

        return await self._on_chain(run)

    async def eth_getBlockTransactionCountByNumber(self, params: list[Any]) -> Any:
        (ref_raw,) = p.expect(params, 1, 1)
        ref = p.block_ref(ref_raw, "argument 0", allow_hash=False)

        def run() -> Any:
            header = self._header_or_none(ref)
            return None if header is None else fmt.q(self.chain.tx_count(header))

        return await self._on_chain(run)

    async def eth_getBlockTransactionCountByHash(self, params: list[Any]) -> Any:
        (hash_raw,) = p.expect(params, 1, 1)
        ref = p.BlockRef(hash=p.hash32(hash_raw, "argument 0"))

        def run() -> Any:
            header = self._header_or_none(ref)
            return None if header is None else fmt.q(self.chain.tx_count(header))

        return await self._on_chain(run)

    async def eth_getUncleCountByBlockNumber(self, params: list[Any]) -> Any:
        (ref_raw,) = p.expect(params, 1, 1)
        ref = p.block_ref(ref_raw, "argument 0", allow_hash=False)
        return await self._on_chain(lambda: None if self._header_or_none(ref) is None else "0x0")

    async def eth_getUncleCountByBlockHash(self, params: list[Any]) -> Any:
        (hash_raw,) = p.expect(params, 1, 1)
        ref = p.BlockRef(hash=p.hash32(hash_raw, "argument 0"))
        return await self._on_chain(lambda: None if self._header_or_none(ref) is None else "0x0")

    async def eth_getBlockReceipts(self, params: list[Any]) -> Any:
        (ref_raw,) = p.expect(params, 1, 1)
        ref = p.block_ref_or_hash(ref_raw, "argument 0")

        def run() -> Any:
            header = self._header_or_none(ref)
            if header is None:
                return None
            return [fmt.receipt(r) for r in self.chain.block_receipts(header)]

        return await self._on_chain(run)

    # ----------------------------------------------------------------------------------- transactions
    async def eth_getTransactionByHash(self, params: list[Any]) -> Any:
        (hash_raw,) = p.expect(params, 1, 1)
        tx_hash = p.hash32(hash_raw, "argument 0")

        def run() -> Any:
            record = self.chain.transaction(tx_hash)
            if record is not None:
                return fmt.transaction(record)
            pooled = self.node.core.pool.get(tx_hash)
            if pooled is not None:
                return fmt.transaction(self.chain.pooled_record(pooled))
            return None

        return await self._on_chain(run)

    async def eth_getTransactionByBlockHashAndIndex(self, params: list[Any]) -> Any:
        hash_raw, index_raw = p.expect(params, 2, 2)
        ref = p.BlockRef(hash=p.hash32(hash_raw, "argument 0"))
        index = p.quantity(index_raw, "argument 1")
        return await self._on_chain(lambda: self._tx_at(ref, index))

    async def eth_getTransactionByBlockNumberAndIndex(self, params: list[Any]) -> Any:
        ref_raw, index_raw = p.expect(params, 2, 2)
        ref = p.block_ref(ref_raw, "argument 0", allow_hash=False)
        index = p.quantity(index_raw, "argument 1")
        return await self._on_chain(lambda: self._tx_at(ref, index))

    def _tx_at(self, ref: p.BlockRef, index: int) -> Any:
        header = self._header_or_none(ref)
        if header is None:
            return None
        record = self.chain.transaction_by_index(header, index)
        return None if record is None else fmt.transaction(record)

    async def eth_getTransactionReceipt(self, params: list[Any]) -> Any:
        (hash_raw,) = p.expect(params, 1, 1)
        tx_hash = p.hash32(hash_raw, "argument 0")

        def run() -> Any:
            record = self.chain.receipt(tx_hash)
            return None if record is None else fmt.receipt(record)

        return await self._on_chain(run)

    # ------------------------------------------------------------------------------------------- logs
    def _criteria(self, raw: Any) -> LogCriteria:
        if not isinstance(raw, dict):
            raise InvalidParams("invalid argument 0: expected a filter object")
        block_hash = None
        if raw.get("blockHash") is not None:
            if raw.get("fromBlock") is not None or raw.get("toBlock") is not None:
                raise InvalidParams(
                    "invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
                )
            block_hash = p.hash32(raw["blockHash"], "argument 0.blockHash")

        def bound(key: str) -> str | int:
            value = raw.get(key)
            if value is None:
                return "latest"
            ref = p.block_ref(value, f"argument 0.{key}", allow_hash=False)
            return ref.tag if ref.tag is not None else ref.number  # type: ignore[return-value]

        addresses_raw = raw.get("address")
        if addresses_raw is None:
            addresses: tuple[bytes, ...] = ()
        elif isinstance(addresses_raw, list):
            addresses = tuple(p.address(a, "argument 0.address") for a in addresses_raw)
        else:
            addresses = (p.address(addresses_raw, "argument 0.address"),)
        topics_raw = raw.get("topics") or []
        if not isinstance(topics_raw, list):
            raise InvalidParams("invalid argument 0: topics must be a list")
        if len(topics_raw) > 4:
            raise InvalidParams("invalid argument 0: too many topics (max 4)")
        topics: list[tuple[bytes, ...] | None] = []
        for t in topics_raw:
            if t is None:
                topics.append(None)
            elif isinstance(t, list):
                topics.append(tuple(p.hash32(x, "argument 0.topics") for x in t if x is not None) or None)
            else:
                topics.append((p.hash32(t, "argument 0.topics"),))
        return LogCriteria(bound("fromBlock"), bound("toBlock"), addresses, tuple(topics), block_hash)

    def _resolve_bound(self, value: str | int) -> int:
        head = self.chain.head_record().number
        if value == "earliest":
            return 0
        if isinstance(value, str):
            return head
        return value

    def _log_range(self, c: LogCriteria, first: int | None) -> tuple[int, int] | None:
        """The block range of a query (chain thread), checked against the range cap; None: nothing to read."""
        head = self.chain.head_record().number
        lo = self._resolve_bound(c.first) if first is None else first
        hi = self._resolve_bound(c.last)
        if isinstance(c.last, int) and c.last > head:
            if (
                first is None
            ):  # a query (geth since 1.15: no silent cut at the head); a filter poll reads up to it
                raise InvalidParams("block range extends beyond current head block")
            hi = head
        if lo > hi:
            if first is not None:
                return None
            raise InvalidParams("invalid block range params")
        cap = self.limits.logs_block_range
        if cap and hi - lo + 1 > cap:
            raise RpcError(LIMIT_EXCEEDED, f"query exceeds max block range {cap}")
        return lo, hi

    async def _query_logs(self, c: LogCriteria, first: int | None = None) -> list[Any]:
        """Matching logs as JSON, read in slices of blocks so a long range never holds the chain thread."""
        chain = self.chain
        limit = self.limits.logs_max_results or 2**62

        def by_hash() -> list[Any]:
            assert c.block_hash is not None
            try:
                chain.header_by_hash(c.block_hash)
            except NotFound:
                raise RpcError(SERVER_ERROR, "unknown block") from None
            try:
                found: list[Any] = chain.logs(
                    0, 0, c.addresses, c.topics, block_hash=c.block_hash, limit=limit
                )
                return found
            except TransactionRejected:
                raise RpcError(LIMIT_EXCEEDED, f"query returned more than {limit} results") from None

        if c.block_hash is not None:
            found = await self._on_chain(by_hash)
            return [fmt.log(x) for x in found]
        bounds = await self._on_chain(lambda: self._log_range(c, first))
        if bounds is None:
            return []
        out: list[Any] = []
        for lo in range(bounds[0], bounds[1] + 1, CHAIN_SLICE):
            hi = min(lo + CHAIN_SLICE - 1, bounds[1])
            left = limit - len(out)
            try:
                found = await self._on_chain(
                    lambda lo=lo, hi=hi, left=left: chain.logs(lo, hi, c.addresses, c.topics, limit=left)  # type: ignore[misc]
                )
            except TransactionRejected:
                raise RpcError(LIMIT_EXCEEDED, f"query returned more than {limit} results") from None
            out.extend(fmt.log(x) for x in found)
        return out

    async def eth_getLogs(self, params: list[Any]) -> Any:
        (raw,) = p.expect(params, 1, 1)
        criteria = self._criteria(raw)
        return await self._query_logs(criteria)

    async def eth_newFilter(self, params: list[Any]) -> Any:
        (raw,) = p.expect(params, 1, 1)
        criteria = self._criteria(raw)
        start = (
            self._resolve_bound(criteria.first)
            if criteria.first != "latest"
            else self.chain.head_record().number + 1
        )
        return self.filters.install(Filter("logs", criteria, next_block=int(start)))

    async def eth_newBlockFilter(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return self.filters.install(Filter("block"))

    async def eth_newPendingTransactionFilter(self, params: list[Any]) -> Any:
        p.expect(params, 0, 1)
        return self.filters.install(Filter("pending"))

    def _filter(self, params: list[Any]) -> tuple[str, Filter]:
        (fid,) = p.expect(params, 1, 1)
        if not isinstance(fid, str):
            raise InvalidParams("invalid argument 0: filter id must be a string")
        flt = self.filters.get(fid)
        if flt is None:
            raise RpcError(SERVER_ERROR, "filter not found")
        return fid, flt

    async def eth_getFilterChanges(self, params: list[Any]) -> Any:
        _fid, flt = self._filter(params)
        if flt.kind in ("block", "pending"):
            out, flt.queue = flt.queue, []
            return [fmt.d(h) for h in out]
        assert flt.criteria is not None
        head = self.chain.head_record().number
        if flt.next_block > head:
            return []
        # Up to the head seen now: the next poll starts after it, so no block is reported twice.
        last = flt.criteria.last
        if last != "earliest":
            last = min(last, head) if isinstance(last, int) else head
        logs = await self._query_logs(dataclasses.replace(flt.criteria, last=last), first=flt.next_block)
        flt.next_block = head + 1
        return logs

    async def eth_getFilterLogs(self, params: list[Any]) -> Any:
        _fid, flt = self._filter(params)
        if flt.kind != "logs" or flt.criteria is None:
            raise RpcError(SERVER_ERROR, "filter not found")
        return await self._query_logs(flt.criteria)

    async def eth_uninstallFilter(self, params: list[Any]) -> Any:
        (fid,) = p.expect(params, 1, 1)
        if not isinstance(fid, str):
            raise InvalidParams("invalid argument 0: filter id must be a string")
        return self.filters.uninstall(fid)

    # ----------------------------------------------------------------------------------- clique, txpool
    async def clique_getSigners(self, params: list[Any]) -> Any:
        (ref_raw,) = p.expect(params, 0, 1)
        ref = p.block_ref_or_hash(ref_raw if ref_raw is not None else "latest", "argument 0")
        return await self._on_chain(lambda: [fmt.d(s) for s in self.chain.signers(self._header(ref))])

    async def clique_getSignersAtHash(self, params: list[Any]) -> Any:
        (hash_raw,) = p.expect(params, 1, 1)
        ref = p.BlockRef(hash=p.hash32(hash_raw, "argument 0"))
        return await self._on_chain(lambda: [fmt.d(s) for s in self.chain.signers(self._header(ref))])

    async def clique_getSnapshot(self, params: list[Any]) -> Any:
        (ref_raw,) = p.expect(params, 0, 1)
        ref = p.block_ref_or_hash(ref_raw if ref_raw is not None else "latest", "argument 0")
        return await self._on_chain(lambda: clique_rpc.snapshot_json(self.chain, self._header(ref)))

    async def clique_getSnapshotAtHash(self, params: list[Any]) -> Any:
        (hash_raw,) = p.expect(params, 1, 1)
        ref = p.BlockRef(hash=p.hash32(hash_raw, "argument 0"))
        return await self._on_chain(lambda: clique_rpc.snapshot_json(self.chain, self._header(ref)))

    async def clique_getSigner(self, params: list[Any]) -> Any:
        (ref_raw,) = p.expect(params, 1, 1)
        ref = p.block_ref_or_hash(ref_raw, "argument 0")
        return await self._on_chain(lambda: clique_rpc.signer_json(self.chain, self._header(ref)))

    async def clique_status(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return await self._on_chain(lambda: clique_rpc.status_json(self.chain, 64))

    async def clique_proposals(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return {fmt.d(a): auth for a, auth in self.node.core.proposals.items()}

    async def clique_propose(self, params: list[Any]) -> Any:
        address_raw, auth = p.expect(params, 2, 2)
        if not isinstance(auth, bool):
            raise InvalidParams("invalid argument 1: expected a boolean")
        self.node.core.proposals[p.address(address_raw, "argument 0")] = auth
        return None

    async def clique_discard(self, params: list[Any]) -> Any:
        (address_raw,) = p.expect(params, 1, 1)
        self.node.core.proposals.pop(p.address(address_raw, "argument 0"), None)
        return None

    async def txpool_status(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)

        def run() -> Any:
            pending, queued = self.node.core.pool.split(self.node.core.view())
            return {
                "pending": fmt.q(sum(len(v) for v in pending.values())),
                "queued": fmt.q(sum(len(v) for v in queued.values())),
            }

        return await self._on_chain(run)

    async def txpool_content(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)

        def run() -> Any:
            pending, queued = self.node.core.pool.split(self.node.core.view())

            def group(part: dict[bytes, list[PoolTx]]) -> dict[str, Any]:
                listed = {to_checksum_address(sender): self._by_nonce(txs) for sender, txs in part.items()}
                return {sender: txs for sender, txs in listed.items() if txs}

            return {"pending": group(pending), "queued": group(queued)}

        return await self._on_chain(run)

    def _by_nonce(self, txs: list[PoolTx]) -> dict[str, Any]:
        # As geth: blob transactions count in txpool_status but are not listed (geth's blob pool lists nothing).
        return {str(t.nonce): fmt.transaction(self.chain.pooled_record(t)) for t in txs if t.type != 3}

    async def txpool_contentFrom(self, params: list[Any]) -> Any:
        (who,) = p.expect(params, 1, 1)
        sender = p.address(who, "argument 0")

        def run() -> Any:
            pending, queued = self.node.core.pool.split(self.node.core.view())
            return {
                "pending": self._by_nonce(pending.get(sender, [])),
                "queued": self._by_nonce(queued.get(sender, [])),
            }

        return await self._on_chain(run)

    # -------------------------------------------------------------------------------- debug (opt-in)
    async def debug_getRawBlock(self, params: list[Any]) -> Any:
        (ref_raw,) = p.expect(params, 1, 1)
        ref = p.block_ref_or_hash(ref_raw, "argument 0")
        return await self._on_chain(lambda: fmt.d(self.chain.encode_block(self._header(ref).number)))

    async def debug_getRawHeader(self, params: list[Any]) -> Any:
        (ref_raw,) = p.expect(params, 1, 1)
        ref = p.block_ref_or_hash(ref_raw, "argument 0")
        return await self._on_chain(lambda: fmt.d(self.chain.raw_header(self._header(ref))))

    async def debug_getRawReceipts(self, params: list[Any]) -> Any:
        (ref_raw,) = p.expect(params, 1, 1)
        ref = p.block_ref_or_hash(ref_raw, "argument 0")
        return await self._on_chain(lambda: [fmt.d(r) for r in self.chain.raw_receipts(self._header(ref))])

    async def debug_getRawTransaction(self, params: list[Any]) -> Any:
        (hash_raw,) = p.expect(params, 1, 1)
        if isinstance(hash_raw, str) and not hash_raw.startswith("0x"):
            raise InvalidParams(
                "invalid argument 0: json: cannot unmarshal hex string without 0x prefix into Go value of type common.Hash"
            )
        tx_hash = p.hash32(hash_raw, "argument 0")

        def run() -> Any:
            raw = self.chain.raw_transaction(tx_hash)
            return "0x" if raw is None else fmt.d(raw)

        return await self._on_chain(run)

    # -------------------------------------------------------------------------------- admin (opt-in)
    async def admin_nodeInfo(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return {
            "name": CLIENT_VERSION,
            "protocols": {
                "eth": {"network": self.node.genesis.chain_id, "genesis": fmt.d(self.chain.genesis_hash)}
            },
            **(
                {"enode": str(self.node.p2p.enode), "id": self.node.p2p.node_id.hex()}
                if self.node.p2p
                else {}
            ),
        }

    async def admin_peers(self, params: list[Any]) -> Any:
        p.expect(params, 0, 0)
        return self.node.p2p.peer_info() if self.node.p2p is not None else []

    async def admin_addPeer(self, params: list[Any]) -> Any:
        (enode_raw,) = p.expect(params, 1, 1)
        if self.node.p2p is None:
            raise RpcError(SERVER_ERROR, "p2p is disabled on this node")
        _peer_call(self.node.p2p.add_peer, enode_raw)
        return True

    async def admin_removePeer(self, params: list[Any]) -> Any:
        (enode_raw,) = p.expect(params, 1, 1)
        if self.node.p2p is None:
            raise RpcError(SERVER_ERROR, "p2p is disabled on this node")
        _peer_call(self.node.p2p.remove_peer, enode_raw)
        return True


def _peer_call(fn: Callable[[str], None], raw: Any) -> None:
    """``fn(address)`` for ``admin_addPeer``/``admin_removePeer``; an address that does not parse is bad params."""
    if not isinstance(raw, str):
        raise InvalidParams("invalid argument 0: expected a pamchain:// node address")
    try:
        fn(raw)
    except NodeError as exc:
        raise InvalidParams(f"invalid argument 0: {exc}") from None


def _execute(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ExecutionReverted as exc:
        raise RpcError(EXECUTION_REVERTED, str(exc), fmt.d(exc.data)) from exc
    except ExecutionFailed as exc:
        raise RpcError(SERVER_ERROR, exc.reason) from exc
    except ExecutionTimeout as exc:
        raise RpcError(SERVER_ERROR, str(exc)) from exc


def _storage_key(value: Any) -> int:
    """geth decodes storage keys leniently (any length up to 32 bytes); a bad key is invalid params (-32602,
    geth's wording; geth answered -32000 before 2025)."""
    if not isinstance(value, str):
        raise InvalidParams("invalid argument 1: storage key must be a hex string")
    digits = value[2:] if value.startswith(("0x", "0X")) else value
    if len(digits) > 64:
        raise InvalidParams(f'storage key too long (want at most 32 bytes): "{value}"')
    try:
        return int(digits, 16) if digits else 0
    except ValueError:
        raise InvalidParams(f'invalid hex in storage key: "{value}"') from None


def _slot_json(raw: str) -> str:
    """geth echoes a full 32-byte key as given and re-encodes a short one as a quantity ("0x00" -> "0x0")."""
    digits = raw[2:] if raw.startswith(("0x", "0X")) else raw
    if len(digits) == 64:
        return "0x" + digits.lower()
    return hex(int(digits or "0", 16))


__all__ = ["INVALID_PARAMS", "RpcApi"]
