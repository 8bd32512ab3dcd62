"""Batch decoding of logs: the same events as one-by-one decoding; unwanted logs skipped before decoding."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak
from pamchain.sdk.chain.abi import ContractAbi
from pamchain.sdk.chain.events import EventDecoder, GenericEvent

ABI = [
    {"type": "event", "name": "Ping", "inputs": [{"name": "who", "type": "address", "indexed": True},
                                                 {"name": "n", "type": "uint256", "indexed": False}]},
    {"type": "event", "name": "Pong", "inputs": [{"name": "n", "type": "uint256", "indexed": True}]},
]  # fmt: skip
OURS = "0x" + "ab" * 20
THEIRS = "0x" + "cd" * 20


def _log(address: str, event: str, i: int) -> dict[str, Any]:
    word = "0x" + i.to_bytes(32, "big").hex()
    topics = [
        "0x" + keccak(text="Ping(address,uint256)" if event == "Ping" else "Pong(uint256)").hex(),
        "0x" + (bytes(12) + bytes([i]) * 20).hex() if event == "Ping" else word,
    ]
    return {
        "address": address,
        "topics": topics,
        "data": word if event == "Ping" else "0x",
        "blockNumber": hex(i),
        "blockHash": "0x" + bytes([i]).hex() * 32,
        "transactionHash": "0x" + bytes([i + 1]).hex() * 32,
        "logIndex": hex(i),
    }


def test_decode_all__batch__equals_one_by_one__names_filter_skips_the_rest() -> None:
    decoder = EventDecoder((OURS, ContractAbi(ABI)))
    logs = [_log(OURS if i % 3 else THEIRS, "Ping" if i % 2 else "Pong", i) for i in range(1, 13)]
    logs.append({**logs[0], "topics": []})  # anonymous: nobody's event
    one_by_one = [e for e in (decoder.decode(x) for x in logs) if e is not None]
    assert decoder.decode_all(logs) == one_by_one
    assert len(one_by_one) == 8 and all(isinstance(e, GenericEvent) for e in one_by_one)
    pongs = decoder.decode_all(logs, names=["Pong"])
    assert pongs == [e for e in one_by_one if isinstance(e, GenericEvent) and e.event == "Pong"]
    assert [e.args["n"] for e in pongs if isinstance(e, GenericEvent)] == [2, 4, 8, 10]
