"""Bounds on the work one client can ask of the node, with the defaults geth, Besu and reth ship (docs/node.md).

Every limit is a ``NodeConfig.rpc_limits`` field and a ``pamchain node run`` flag; 0 turns a count limit off.
When one is hit the client gets a JSON-RPC error that names it, never a stalled node.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..calls import DEFAULT_EVM_TIMEOUT, DEFAULT_GAS_CAP


@dataclass(frozen=True)
class RpcLimits:
    """Per-request, per-connection and per-node bounds of the JSON-RPC server."""

    gas_cap: int = DEFAULT_GAS_CAP  # geth --rpc.gascap: most gas an eth_call / estimate may use
    evm_timeout: float = DEFAULT_EVM_TIMEOUT  # geth --rpc.evmtimeout, seconds (0: none)
    call_workers: int = 2  # threads running user calls, off the chain thread
    batch_limit: int = 1_000  # geth --rpc.batch-request-limit
    response_max_bytes: int = 25_000_000  # geth --rpc.batch-response-max-size, for every response here
    logs_block_range: int = 5_000  # Besu --rpc-max-logs-range: blocks one eth_getLogs may span
    logs_max_results: int = 10_000  # logs one query may return (Infura/Alchemy's 10,000)
    max_filters: int = 1_024  # installed eth_newFilter & co, node-wide
    filter_timeout: float = 300.0  # geth: a filter nobody polled for 5 minutes is dropped
    fee_history_blocks: int = 1_024  # geth's maxFeeHistory
    fee_history_percentiles: int = 100  # geth's maxQueryLimit for reward percentiles
    ws_max_connections: int = 100  # Besu --rpc-ws-max-active-connections (80)
    ws_max_subscriptions: int = 128  # eth_subscribe per connection
    ws_send_queue: int = 1_024  # messages queued for one connection before it is dropped as too slow
    ws_write_timeout: float = 10.0  # geth's websocket write deadline, seconds
    # EIP-7966: eth_sendRawTransactionSync waits this long for the receipt (seconds), its default and maximum
    send_sync_timeout: float = 2.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0:
                raise ValueError(f"rpc limit {name} must not be negative, got {value}")
        if self.call_workers < 1:
            raise ValueError("rpc limit call_workers must be at least 1")
        if self.send_sync_timeout <= 0:
            raise ValueError("rpc limit send_sync_timeout must be positive")
