"""A JSON-RPC batch admits its runs of ``eth_sendRawTransaction`` together (two thread hops for the run instead
of two per transaction); the responses and the pool must be exactly what the same requests sent one by one give.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from eth_account.signers.local import LocalAccount
from pamchain.node.rpc.methods import RpcApi
from pamchain.node.service import run_node

from .conftest import CHAIN_ID, signed_transfer


def _raw(sender: LocalAccount, nonce: int, chain_id: int = CHAIN_ID) -> str:
    return "0x" + signed_transfer(sender, nonce, chain_id=chain_id).hex()


def _send(id_: Any, *params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": "eth_sendRawTransaction", "params": list(params)}


def _post(url: str, body: Any) -> Any:
    reply = requests.post(
        url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=30
    )
    return reply.json() if reply.text else None


def test_batch_of_sends__same_responses_and_pool_as_one_by_one(
    genesis_factory: Any, users: list[LocalAccount], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []
    original = RpcApi.send_raw_transactions

    async def counted(self: RpcApi, batch: list[list[Any]]) -> list[Any]:
        runs.append(len(batch))
        return await original(self, batch)

    monkeypatch.setattr(RpcApi, "send_raw_transactions", counted)
    u0, u1, u2 = users[:3]
    batch: list[Any] = [
        _send(1, _raw(u0, 0)),
        _send("two", _raw(u0, 1)),
        {"jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber", "params": []},  # ends the first run
        _send(4, "0xzz"),  # not hex
        _send(5, _raw(u0, 0)),  # already known: the first request of this batch pooled it
        _send(6),  # a missing argument
        _send(7, _raw(u1, 0, chain_id=CHAIN_ID + 1)),  # another chain's
        _send(8, _raw(u1, 0)),
        {"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": [_raw(u2, 0)]},  # a notification
        _send(None, _raw(u2, 1)),  # a null id still gets its response
        _send(11, _raw(u1, 0), "extra"),  # too many arguments
        {"jsonrpc": "1.0", "id": 12, "method": "eth_sendRawTransaction", "params": [_raw(u2, 2)]},
        _send(13, _raw(u2, 3)),
    ]
    genesis = genesis_factory()
    with run_node(genesis, seal_mode="none") as together, run_node(genesis, seal_mode="none") as apart:
        batched = _post(together.url, batch)
        # Runs of well-formed sends with ids went together; the notification, the bad version and the last
        # send (a run of one) each on their own.
        assert runs == [2, 5, 1, 2, 1]
        one_by_one = [r for r in (_post(apart.url, item) for item in batch) if r is not None]
        assert batched == one_by_one
        assert len(batched) == len(batch) - 1  # all but the notification
        results = {r["id"]: r for r in batched}
        assert "result" in results[1] and "result" in results[8] and "result" in results[13]
        for bad in (4, 5, 6, 7, 11, 12):
            assert "error" in results[bad], bad
        pools = [
            _post(node.url, {"jsonrpc": "2.0", "id": 1, "method": "txpool_content", "params": []})
            for node in (together, apart)
        ]
        assert pools[0] == pools[1]
        pending = pools[0]["result"]["pending"]
        assert sorted(len(v) for v in pending.values()) == [1, 2, 2]  # u0: 0, 1; u1: 0; u2: 0, 1 (3 queued)
