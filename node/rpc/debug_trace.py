"""``debug_traceTransaction``, ``debug_traceBlockByNumber``, ``debug_traceBlockByHash``: geth's struct logger,
``callTracer`` and ``prestateTracer`` over a replay of the block on its parent's state.

In the ``debug`` namespace, so served only with ``--rpc-debug`` (as geth serves ``debug`` only when asked): a
trace re-executes up to a whole block and its answer can be large. Like user calls, a replay runs on a call
worker, never on the chain thread, within ``--rpc-evm-timeout``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..abc import RpcBackend
from ..calls import CallBudget
from ..chain import CallReader, Chain
from ..chain.tracing import Tracer, TracerError, make_tracer
from ..errors import ExecutionTimeout, NotFound
from ..records import HeaderRecord
from . import format as fmt
from . import params as p
from .errors import SERVER_ERROR, InvalidParams, RpcError


class TraceApi:
    """The tracing methods, mixed into ``RpcApi`` (which provides the attributes declared here)."""

    node: RpcBackend
    _on_chain: Callable[[Callable[[], Any]], Awaitable[Any]]
    _header: Callable[[p.BlockRef], HeaderRecord]
    _budget: Callable[[], CallBudget]

    @property
    def chain(self) -> Chain:
        return self.node.chain

    async def debug_traceTransaction(self, params: list[Any]) -> Any:
        hash_raw, options = p.expect(params, 1, 2)
        tx_hash = p.hash32(hash_raw, "argument 0")
        make = _tracer(options)

        def locate() -> tuple[HeaderRecord, int]:
            found = self.chain.locate(tx_hash)
            if found is None:
                raise RpcError(SERVER_ERROR, "transaction not found")
            return found

        block, index = await self._on_chain(locate)
        (result,) = await self._replay(block, make, index)
        return result

    async def debug_traceBlockByNumber(self, params: list[Any]) -> Any:
        ref_raw, options = p.expect(params, 1, 2)
        ref = p.block_ref(ref_raw, "argument 0", allow_hash=False)
        return await self._trace_block(ref, options)

    async def debug_traceBlockByHash(self, params: list[Any]) -> Any:
        hash_raw, options = p.expect(params, 1, 2)
        ref = p.BlockRef(hash=p.hash32(hash_raw, "argument 0"))
        return await self._trace_block(ref, options)

    async def _trace_block(self, ref: p.BlockRef, options: Any) -> Any:
        make = _tracer(options)

        def inputs() -> tuple[HeaderRecord, tuple[bytes, ...]]:
            try:
                block = self._header(ref)
            except RpcError:
                what = fmt.d(ref.hash) if ref.hash is not None else f"#{ref.number}"
                raise RpcError(SERVER_ERROR, f"block {what} not found") from None
            try:
                return block, self.chain.traced_transactions(block)
            except NotFound as exc:
                raise RpcError(SERVER_ERROR, str(exc)) from exc

        block, tx_hashes = await self._on_chain(inputs)
        results = await self._replay(block, make, None)
        return [{"txHash": fmt.d(h), "result": r} for h, r in zip(tx_hashes, results, strict=True)]

    async def _replay(self, block: HeaderRecord, make: Callable[[], Tracer], only: int | None) -> list[Any]:
        budget = self._budget()

        def run(reader: CallReader) -> list[Any]:
            try:
                return list(reader.trace(block, make, only, budget))
            # a trace reports reverts and failures in its result; only running out of time is an error
            except ExecutionTimeout as exc:
                raise RpcError(SERVER_ERROR, str(exc)) from exc

        traces: list[Any] = await self.node.off_chain(run)
        return traces


def _tracer(options: Any) -> Callable[[], Tracer]:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise InvalidParams("invalid argument 1: expected a trace options object")
    try:
        return make_tracer(options)
    except TracerError as exc:
        raise RpcError(SERVER_ERROR, str(exc)) from exc
