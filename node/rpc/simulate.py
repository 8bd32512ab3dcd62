"""``eth_simulateV1``: parameters in, simulated blocks out (the simulation itself is ``node/simulate.py``).

Like user calls, a simulation runs on a call worker on committed state, within ``--rpc-gas-cap`` (the gas of all
its calls together, as geth) and ``--rpc-evm-timeout``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..abc import RpcBackend
from ..calls import CallBudget
from ..chain import CallReader
from ..chain.simulate import (
    AccountOverride,
    BlockOverrides,
    SimBlock,
    SimulatedBlock,
    SimulationError,
    simulate,
)
from ..errors import ExecutionTimeout
from ..records import HeaderRecord
from . import format as fmt
from . import params as p
from .errors import SERVER_ERROR, InvalidParams, RpcError


class SimulateApi:
    """``eth_simulateV1``, mixed into ``RpcApi`` (which provides the attributes declared here)."""

    node: RpcBackend
    _on_chain: Callable[[Callable[[], Any]], Awaitable[Any]]
    _header: Callable[[p.BlockRef], HeaderRecord]
    _budget: Callable[[], CallBudget]

    async def eth_simulateV1(self, params: list[Any]) -> Any:
        raw, ref_raw = p.expect(params, 1, 2)
        if not isinstance(raw, dict):
            raise InvalidParams("invalid argument 0: expected a simulation object")
        calls_raw = raw.get("blockStateCalls")
        if not isinstance(calls_raw, list):
            raise InvalidParams("invalid argument 0: blockStateCalls must be a list")
        flags = {k: _flag(raw, k) for k in ("validation", "traceTransfers", "returnFullTransactions")}
        blocks = [_block(b, i) for i, b in enumerate(calls_raw)]
        ref = p.block_ref_or_hash(ref_raw if ref_raw is not None else "latest", "argument 1")
        base: HeaderRecord = await self._on_chain(lambda: self._header(ref))
        budget = self._budget()

        def run(reader: CallReader) -> list[SimulatedBlock]:
            try:
                return simulate(
                    reader,
                    base,
                    blocks,
                    validation=flags["validation"],
                    trace_transfers=flags["traceTransfers"],
                    budget=budget,
                )
            except SimulationError as exc:
                raise RpcError(exc.code, exc.message) from exc
            except ExecutionTimeout as exc:
                raise RpcError(SERVER_ERROR, str(exc)) from exc

        simulated: list[SimulatedBlock] = await self.node.off_chain(run)
        return [_block_json(b, flags["returnFullTransactions"]) for b in simulated]


def _flag(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if value is None:
        return False
    return p.boolean(value, f"argument 0.{key}")


def _block(raw: Any, index: int) -> SimBlock:
    what = f"argument 0.blockStateCalls[{index}]"
    if not isinstance(raw, dict):
        raise InvalidParams(f"invalid argument: {what}: expected an object")
    calls_raw = raw.get("calls") or []
    if not isinstance(calls_raw, list):
        raise InvalidParams(f"invalid argument: {what}.calls: expected a list")
    return SimBlock(
        overrides=_block_overrides(raw.get("blockOverrides") or {}, f"{what}.blockOverrides"),
        state=_state_overrides(raw.get("stateOverrides") or {}, f"{what}.stateOverrides"),
        calls=tuple(p.call_request(c, f"{what}.calls[{i}]") for i, c in enumerate(calls_raw)),
    )


def _block_overrides(raw: Any, what: str) -> BlockOverrides:
    if not isinstance(raw, dict):
        raise InvalidParams(f"invalid argument: {what}: expected an object")

    def opt(key: str, parse: Callable[[Any, str], Any]) -> Any:
        value = raw.get(key)
        return None if value is None else parse(value, f"{what}.{key}")

    return BlockOverrides(
        number=opt("number", p.quantity),
        time=opt("time", p.quantity),
        gas_limit=opt("gasLimit", p.quantity),
        fee_recipient=opt("feeRecipient", p.address),
        prev_randao=opt("prevRandao", p.hash32),
        base_fee=opt("baseFeePerGas", p.quantity),
        blob_base_fee=opt("blobBaseFee", p.quantity),
    )


def _slots(raw: Any, what: str) -> dict[int, int]:
    if not isinstance(raw, dict):
        raise InvalidParams(f"invalid argument: {what}: expected an object of slot to value")
    return {
        int.from_bytes(p.hash32(k, what), "big"): int.from_bytes(p.hash32(v, what), "big")
        for k, v in raw.items()
    }


def _state_overrides(raw: Any, what: str) -> dict[bytes, AccountOverride]:
    if not isinstance(raw, dict):
        raise InvalidParams(f"invalid argument: {what}: expected an object")
    out: dict[bytes, AccountOverride] = {}
    for key, o in raw.items():
        address = p.address(key, what)
        if not isinstance(o, dict):
            raise InvalidParams(f"invalid argument: {what}: expected an account object")
        if o.get("state") is not None and o.get("stateDiff") is not None:
            raise InvalidParams(f"invalid argument: {what}: account {key} has both 'state' and 'stateDiff'")
        out[address] = AccountOverride(
            balance=None if o.get("balance") is None else p.quantity(o["balance"], f"{what}.balance"),
            nonce=None if o.get("nonce") is None else p.quantity(o["nonce"], f"{what}.nonce"),
            code=None if o.get("code") is None else p.data(o["code"], f"{what}.code"),
            state=None if o.get("state") is None else _slots(o["state"], f"{what}.state"),
            state_diff=None if o.get("stateDiff") is None else _slots(o["stateDiff"], f"{what}.stateDiff"),
            move_precompile_to=None
            if o.get("movePrecompileToAddress") is None
            else p.address(o["movePrecompileToAddress"], f"{what}.movePrecompileToAddress"),
        )
    return out


def _block_json(block: SimulatedBlock, full: bool) -> dict[str, Any]:
    out = fmt.header(block.header, block.size)
    out["transactions"] = (
        [fmt.transaction(t) for t in block.transactions]
        if full
        else [fmt.d(t.hash) for t in block.transactions]
    )
    out["uncles"] = []
    if block.header.withdrawals_root is not None:
        out["withdrawals"] = []
    calls = []
    for outcome in block.outcomes:
        call: dict[str, Any] = {
            "returnData": fmt.d(outcome.return_data),
            "logs": [fmt.log(entry) for entry in outcome.logs],
            "gasUsed": fmt.q(outcome.gas_used),
            "maxUsedGas": fmt.q(outcome.max_used_gas),
            "status": fmt.q(outcome.status),
        }
        if outcome.error is not None:
            code, message, data = outcome.error
            call["error"] = {
                "code": code,
                "message": message,
                **({"data": fmt.d(data)} if data is not None else {}),
            }
        calls.append(call)
    out["calls"] = calls
    return out
