"""EIP-7951 P256VERIFY at 0x100 (issue 17 item 2, the node's part): what a contract needs to check a WebAuthn
assertion itself. Vectors are made with OpenSSL (``cryptography``); the edge cases are EIP-7951's input rules."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import vyper
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from eth_account.signers.local import LocalAccount
from hypothesis import given
from hypothesis import strategies as st
from pamchain.node.chain.p256 import GAS, SUCCESS, N, P, verify
from pamchain.node.service import run_node
from web3 import Web3

from .conftest import make_web3
from .node_process import NodeProcess, node_process

PRECOMPILE = "0x" + "00" * 18 + "0100"


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def signed(message: bytes = b"approve request 7", key: Any = None) -> bytes:
    """The precompile's 160-byte input for a fresh P-256 signature of sha256(message)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(message).digest()
    r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
    point = key.public_key().public_numbers()
    return digest + _word(r) + _word(s) + _word(point.x) + _word(point.y)


def _with(data: bytes, index: int, value: int) -> bytes:
    """``data`` with its ``index``-th 32-byte word (0 hash, 1 r, 2 s, 3 qx, 4 qy) replaced."""
    return data[: 32 * index] + _word(value) + data[32 * (index + 1) :]


# --- the check itself --------------------------------------------------------------------------------------


def test_verify__valid_signature__true() -> None:
    assert verify(signed())


def test_verify__high_s__still_valid() -> None:
    data = signed()
    s = int.from_bytes(data[64:96], "big")
    assert verify(_with(data, 2, N - s))  # EIP-7951 has no malleability rule (WebAuthn signers emit either)


def test_verify__hash_above_the_order__taken_modulo_n() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    digest = _word(N + 5)  # a 32-byte hash value >= n: ECDSA uses it modulo n
    r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
    point = key.public_key().public_numbers()
    assert verify(digest + _word(r) + _word(s) + _word(point.x) + _word(point.y))


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d[:-1], id="159 bytes"),
        pytest.param(lambda d: d + b"\0", id="161 bytes"),
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: _with(d, 1, 0), id="r=0"),
        pytest.param(lambda d: _with(d, 2, 0), id="s=0"),
        pytest.param(lambda d: _with(d, 1, N), id="r=n"),
        pytest.param(lambda d: _with(d, 2, N), id="s=n"),
        pytest.param(lambda d: _with(d, 3, P), id="qx=p"),
        pytest.param(lambda d: _with(d, 4, P), id="qy=p"),
        pytest.param(lambda d: _with(_with(d, 3, 0), 4, 0), id="point at infinity"),
        pytest.param(lambda d: _with(d, 4, int.from_bytes(d[128:], "big") ^ 1), id="point off the curve"),
        pytest.param(lambda d: hashlib.sha256(b"another request").digest() + d[32:], id="other message"),
        pytest.param(lambda d: signed()[:96] + d[96:], id="another key's signature"),
    ],
)
def test_verify__bad_input__false(mutate: Callable[[bytes], bytes]) -> None:
    assert not verify(mutate(signed()))


@given(message=st.binary(max_size=64), flip=st.integers(min_value=0, max_value=96 * 8 - 1))
def test_verify__any_bit_of_hash_r_or_s_flipped__false(message: bytes, flip: int) -> None:
    data = bytearray(signed(message))
    data[flip // 8] ^= 1 << (flip % 8)
    assert not verify(bytes(data))


# --- on a node: the precompile, its gas, contracts using it ------------------------------------------------


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory, signer: LocalAccount) -> Iterator[NodeProcess]:
    with node_process(tmp_path_factory.mktemp("p256"), signer, []) as node:
        yield node


def test_node__eth_call_to_0x100__one_for_a_valid_signature_nothing_otherwise(process: NodeProcess) -> None:
    good = signed()
    assert process.rpc().call("eth_call", {"to": PRECOMPILE, "data": "0x" + good.hex()}, "latest") == (
        "0x" + SUCCESS.hex()
    )
    bad = _with(good, 1, 0)
    assert process.rpc().call("eth_call", {"to": PRECOMPILE, "data": "0x" + bad.hex()}, "latest") == "0x"


def test_node__gas__6900_whatever_the_outcome(process: NodeProcess) -> None:
    def estimate(data: bytes) -> int:
        return int(process.rpc().call("eth_estimateGas", {"to": PRECOMPILE, "data": "0x" + data.hex()}), 16)

    good, bad = signed(), _with(signed(), 2, 0)
    calldata = lambda data: sum(16 if b else 4 for b in data)  # noqa: E731 - EIP-2028 calldata gas
    assert estimate(good) == 21_000 + calldata(good) + GAS
    assert estimate(bad) == 21_000 + calldata(bad) + GAS


CHECKER = """
# pragma version ~=0.4.3
@external
@view
def check(data: Bytes[160]) -> bool:
    ok: bool = False
    out: Bytes[32] = b""
    ok, out = raw_call(0x0000000000000000000000000000000000000100, data, max_outsize=32, is_static_call=True, revert_on_failure=False)
    return ok and len(out) == 32 and convert(out, uint256) == 1
"""


@pytest.fixture
def p256_node(genesis_factory: Callable[..., dict[str, Any]], signer: LocalAccount) -> Iterator[Web3]:
    with run_node(genesis_factory(), signer.key, seal_mode="on-demand") as handle:
        yield make_web3(handle.url)


def test_contract__checks_a_p256_signature_through_the_precompile(
    p256_node: Web3, users: list[LocalAccount]
) -> None:
    compiled = vyper.compile_code(CHECKER, output_formats=["abi", "bytecode"])
    factory = p256_node.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    sender = users[0]
    tx = factory.constructor().build_transaction(
        {"from": sender.address, "nonce": p256_node.eth.get_transaction_count(sender.address)}
    )
    sent = p256_node.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    address = p256_node.eth.wait_for_transaction_receipt(sent, timeout=30)["contractAddress"]
    checker = p256_node.eth.contract(address=address, abi=compiled["abi"])
    good = signed()
    assert checker.functions.check(good).call() is True
    assert checker.functions.check(_with(good, 3, P)).call() is False


def test_genesis_without_p256verify__0x100_is_an_empty_account(
    genesis_factory: Callable[..., dict[str, Any]], signer: LocalAccount
) -> None:
    with run_node(genesis_factory(p256_verify=False), signer.key, seal_mode="on-demand") as handle:
        w3 = make_web3(handle.url)
        assert w3.eth.call({"to": Web3.to_checksum_address(PRECOMPILE), "data": signed()}) == b""


def test_genesis__p256verify_not_a_boolean__refused(genesis_factory: Callable[..., dict[str, Any]]) -> None:
    from pamchain.node.errors import GenesisError
    from pamchain.node.genesis import parse_genesis

    doc = genesis_factory()
    doc["config"]["pamchain"]["p256Verify"] = "yes"
    with pytest.raises(GenesisError, match="p256Verify"):
        parse_genesis(doc)


def test_eth_config__lists_p256verify_by_its_eip_7910_name(process: NodeProcess) -> None:
    config = process.rpc().call("eth_config")
    assert config["current"]["precompiles"]["P256VERIFY"] == PRECOMPILE
