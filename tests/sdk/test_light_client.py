"""The oracle's light client over a served chain sealed by pamchain's node (3 signers, epoch 4).

The endpoint here is an in-memory JSON-RPC stand-in serving the node's blocks exactly as JSON-RPC shapes
them; tests/integration/test_oracle_light_client.py runs the same client against a node process.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from eth_typing import Address
from pamchain.sdk.errors import NodeUnavailable, SdkError
from pamchain.sdk.oracle import light_client
from pamchain.sdk.oracle.errors import EndpointLies, UnverifiedBlock
from pamchain.sdk.oracle.light_client import Anchor, LightClient, SnapshotStore, VerifiedChain

from .test_clique import address, block_json, key, node_chain

EPOCH = 4
LENGTH = 14


class ServedChain:
    """``ChainRpc``'s interface over a list of JSON blocks; ``calls`` records what was asked."""

    url = "http://user:secret@node.example:8545/rpc?token=x"

    def __init__(self, blocks: list[dict[str, Any]]) -> None:
        self.blocks = blocks
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def call(self, method: str, *params: Any) -> Any:
        self.calls.append((method, params))
        if method == "eth_blockNumber":
            return hex(len(self.blocks) - 1)
        if method == "eth_getBlockByNumber":
            number = int(params[0], 16)
            return dict(self.blocks[number]) if number < len(self.blocks) else None
        raise AssertionError(f"unexpected call {method}")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        return [self.call(method, *params) for method, params in calls]

    def asked_blocks(self) -> list[int]:
        return [int(p[0], 16) for m, p in self.calls if m == "eth_getBlockByNumber"]


@pytest.fixture(scope="module")
def built() -> tuple[list[dict[str, Any]], list[int]]:
    """The served blocks, and the block the node held final when each was its head (its FFG count)."""
    chain, start = node_chain(["A", "B", "C"], epoch=EPOCH)
    by_address = {address(s): key(s) for s in "ABC"}
    order = sorted(by_address)
    finals = [0]
    for number in range(1, LENGTH):
        signer = by_address[order[number % 3]]
        chain.build_block(
            [], Address(signer.public_key.to_canonical_address()), signer, timestamp=start + number
        )
        finals.append(chain.finalized_number())
    return [block_json(chain, n) for n in range(LENGTH)], finals


@pytest.fixture(scope="module")
def blocks(built: tuple[list[dict[str, Any]], list[int]]) -> list[dict[str, Any]]:
    return built[0]


@pytest.fixture(scope="module")
def finals(built: tuple[list[dict[str, Any]], list[int]]) -> list[int]:
    return built[1]


def client(served: ServedChain, path: Path, anchor: Anchor) -> LightClient:
    return LightClient(served, SnapshotStore(path), anchor, epoch=EPOCH, batch=3)


def anchor_at(blocks: list[dict[str, Any]], number: int) -> Anchor:
    return Anchor.parse(number, blocks[number]["hash"])


def test_sync__from_genesis__final_is_what_the_node_holds_final(
    blocks: list[dict[str, Any]], finals: list[int], tmp_path: Path
) -> None:
    light = client(ServedChain(blocks), tmp_path / "j.sqlite3", anchor_at(blocks, 0))
    assert finals[-1] >= LENGTH - 5  # 3 signers, a checkpoint every 2 blocks: final lags by 2 to 4 blocks
    assert light.sync() == finals[-1]  # counted from the votes in the headers it verified, not from the node
    assert light.headers_verified == LENGTH - 1
    assert [h.hex_hash for h in light.headers(1, 3)] == [b["hash"] for b in blocks[1:4]]


def test_sync__restart__resumes_from_the_stored_block(
    blocks: list[dict[str, Any]], finals: list[int], tmp_path: Path
) -> None:
    served = ServedChain(blocks[:7])
    assert client(served, tmp_path / "j.sqlite3", anchor_at(blocks, 0)).sync() == finals[6] > 0
    again = ServedChain(blocks)
    light = client(again, tmp_path / "j.sqlite3", anchor_at(blocks, 0))
    assert light.sync() == finals[-1]
    assert min(again.asked_blocks()) == finals[6] + 1  # after the block final before the restart
    # headers below the stored block are verified by walking parent hashes down from it
    assert light.headers(2, 3)[1].hex_hash == blocks[3]["hash"]


def test_sync__anchor_past_a_checkpoint__bootstraps_from_the_checkpoint(
    blocks: list[dict[str, Any]], finals: list[int], tmp_path: Path
) -> None:
    served = ServedChain(blocks)
    light = client(served, tmp_path / "j.sqlite3", anchor_at(blocks, 6))
    assert light.sync() == finals[-1] > 6  # it learned the checkpoints from links out of the anchor's past
    assert min(served.asked_blocks()) == 3  # checkpoint 4 and the recent signer before it, never genesis


def test_sync__wrong_anchor_hash__endpoint_lies(blocks: list[dict[str, Any]], tmp_path: Path) -> None:
    light = client(ServedChain(blocks), tmp_path / "j.sqlite3", Anchor(6, b"\x01" * 32))
    with pytest.raises(EndpointLies, match="does not hash to the verified chain") as info:
        light.sync()
    assert "secret" not in str(info.value) and "token" not in str(info.value)
    assert info.value.endpoint == "http://node.example:8545/rpc"


def test_sync__next_block_from_another_chain__refused_for_good(
    blocks: list[dict[str, Any]], finals: list[int], tmp_path: Path
) -> None:
    served = ServedChain(blocks[:7])
    light = client(served, tmp_path / "j.sqlite3", anchor_at(blocks, 0))
    final = light.sync()
    assert final == finals[6] > 0  # the other chain below forks after a block of its own, not at genesis
    other, start = node_chain(["A", "B", "C"], epoch=EPOCH)  # same signers, another genesis time
    signers = sorted(address(s) for s in "ABC")
    for number in range(1, 6):
        signer = next(key(s) for s in "ABC" if address(s) == signers[number % 3])
        other.build_block(
            [], Address(signer.public_key.to_canonical_address()), signer, timestamp=start + 100 + number
        )
    served.blocks = [*blocks[: final + 1], *(block_json(other, n) for n in (final + 1, final + 2))]
    with pytest.raises(EndpointLies, match="does not link to the verified final block"):
        light.sync()
    served.calls.clear()
    with pytest.raises(EndpointLies):
        light.sync()  # refused for good: not even asked again
    assert served.calls == []
    with pytest.raises(EndpointLies):
        light.logs(1, 2, b"\x01" * 20)


def test_logs__block_not_final__unverified(blocks: list[dict[str, Any]], tmp_path: Path) -> None:
    light = client(ServedChain(blocks), tmp_path / "j.sqlite3", anchor_at(blocks, 0))
    final = light.sync()
    with pytest.raises(UnverifiedBlock):
        light.logs(1, final + 1, b"\x01" * 20)


def test_logs__bloom_excludes_the_contract__no_receipts_fetched(
    blocks: list[dict[str, Any]], tmp_path: Path
) -> None:
    served = ServedChain(blocks)
    light = client(served, tmp_path / "j.sqlite3", anchor_at(blocks, 0))
    final = light.sync()
    served.calls.clear()
    assert light.logs(1, final, b"\x01" * 20) == []
    assert served.calls == []  # empty blooms: no receipts, no block bodies asked


def test_verified_chain__rpc_error_answer__node_unavailable_not_a_lie(
    blocks: list[dict[str, Any]], tmp_path: Path
) -> None:
    """An error answer is an unreachable chain to the daemon (removals at expiry go on); not a refusal."""

    class Refusing(ServedChain):
        def call(self, method: str, *params: Any) -> Any:
            if method == "eth_getBlockByNumber":
                raise SdkError("eth_getBlockByNumber: rate limited")
            return super().call(method, *params)

    light = client(Refusing(blocks), tmp_path / "j.sqlite3", anchor_at(blocks, 0))
    stub = cast(Any, SimpleNamespace(decoder=None, address="0x" + "11" * 20))
    with pytest.raises(NodeUnavailable, match="rate limited"):
        VerifiedChain(light, stub).final_block()
    assert light.refused is None


def test_headers__far_below_the_tip__walked_down_from_the_nearest_mark(
    blocks: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-reading old blocks (a journal rebuilt from the chain) costs the distance to the next mark, not
    to the tip."""
    monkeypatch.setattr(light_client, "MARK_EVERY", 4)
    client(ServedChain(blocks), tmp_path / "j.sqlite3", anchor_at(blocks, 0)).sync()
    served = ServedChain(blocks)
    light = client(served, tmp_path / "j.sqlite3", anchor_at(blocks, 0))  # restarted: nothing cached
    light.sync()
    served.calls.clear()
    assert [h.hex_hash for h in light.headers(1, 2)] == [b["hash"] for b in blocks[1:3]]
    assert max(served.asked_blocks()) == 4  # the mark at block 4, not the final block 9
