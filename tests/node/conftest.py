"""Node test fixtures: deterministic keys, a genesis factory, an in-process node, web3 over real HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import vyper
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_typing import Address
from pamchain.node import load_genesis, make_genesis, run_node
from pamchain.node.chain import Chain, base
from pamchain.node.errors import InvalidBlock
from pamchain.node.service import NodeHandle
from pamchain.node.storage import open_store
from web3 import HTTPProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware

from .boundary import ChainBoundary, Crossings

CHAIN_ID = 31337
ETHER = 10**18


def signed_transfer(sender: LocalAccount, nonce: int = 0, value: int = 1, chain_id: int = CHAIN_ID) -> bytes:
    """A raw EIP-1559 transfer of ``value`` wei to a fixed recipient."""
    tx: dict[str, Any] = {
        "to": "0x" + "22" * 20,
        "value": value,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "nonce": nonce,
        "chainId": chain_id,
    }
    return bytes(sender.sign_transaction(tx).raw_transaction)


def rpc(w3: Web3, method: str, *params: Any) -> dict[str, Any]:
    """The raw JSON-RPC reply (``result`` or ``error``), as a client sees it."""
    return dict(w3.provider.make_request(method, list(params)))  # type: ignore[arg-type]


def build_on(chain: Chain, signer: LocalAccount, pooled: list[Any]) -> Any:
    """``chain`` builds, seals and commits a block of ``pooled`` (decoded transactions) as ``signer``."""
    key = keys.PrivateKey(signer.key)
    signer_address = Address(key.public_key.to_canonical_address())
    return chain.build_block(pooled, signer_address, key, timestamp=chain.head.timestamp + 1)


def assert_refused_on_import(
    ours: Chain, lax: Chain, signer: LocalAccount, pooled: Any, refusal: str
) -> None:
    """The lax chain builds a block of ``pooled``; the node's chain refuses it (``refusal``) and stays put."""
    built = build_on(lax, signer, [pooled])
    assert built.included == (pooled.hash,)
    head = ours.head.block_number
    with pytest.raises(InvalidBlock, match=refusal):
        ours.import_block(ours.decode_block(lax.encode_block(built.number)))
    assert ours.head.block_number == head


@contextlib.contextmanager
def ours_and_lax(signer: LocalAccount, alloc: dict[str, int], rule: str) -> Iterator[tuple[Chain, Chain]]:
    """The node's chain, and one whose VMs lack ``rule`` (a layer of ``chain.base``, e.g.
    ``with_calldata_floor``): a faulty or hostile validator's."""
    genesis = load_genesis(make_genesis([signer.address], CHAIN_ID, alloc))
    ours = Chain(genesis, open_store(None))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, rule, lambda vm_class: vm_class)
        lax = Chain(genesis, open_store(None))
    try:
        yield ours, lax
    finally:
        for chain in (ours, lax):
            chain.store.close()


TEST_CONTRACT = """
# pragma version ^0.4.0
event Bumped:
    who: indexed(address)
    amount: uint256

owner: public(address)
count: public(uint256)
allowed: public(HashMap[address, bool])

@deploy
def __init__():
    self.owner = msg.sender

@external
def bump(amount: uint256):
    assert amount > 0, "zero amount"
    self.count += amount
    log Bumped(who=msg.sender, amount=amount)

@external
def allow(who: address, ok: bool):
    assert msg.sender == self.owner, "not owner"
    self.allowed[who] = ok

@view
@external
def is_account_allowed(who: address) -> bool:
    return self.allowed[who]
"""


CROSSINGS = Crossings()  # what crossed the chain layer's boundary during the current test


@pytest.fixture(scope="session", autouse=True)
def _chain_boundary() -> Iterator[None]:
    """Every in-process node's ``Chain`` and ``CallReader`` behind ``boundary.ChainBoundary`` (session-wide, so
    module-scoped nodes are covered too): rpc, p2p, core and the service meet them only through it."""
    from pamchain.node import service
    from pamchain.node.chain import CallReader, Chain

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service, "Chain", lambda *a, **k: ChainBoundary(Chain(*a, **k), CROSSINGS))
        patch.setattr(service, "CallReader", lambda *a, **k: ChainBoundary(CallReader(*a, **k), CROSSINGS))
        yield


@pytest.fixture(autouse=True)
def _no_py_evm_crossing() -> Iterator[None]:
    """Fails the test during which a py-evm object left (or entered) the chain layer (tests/node/boundary.py)."""
    CROSSINGS.found.clear()
    yield
    found, CROSSINGS.found[:] = list(CROSSINGS.found), []
    assert not found, "py-evm objects crossed the chain layer's boundary:\n" + "\n".join(found)


def _account(n: int) -> LocalAccount:
    return Account.from_key((n).to_bytes(32, "big"))


@pytest.fixture(scope="session")
def signer() -> LocalAccount:
    return _account(0xA11CE)


@pytest.fixture(scope="session")
def users() -> list[LocalAccount]:
    return [_account(0xB0B + i) for i in range(6)]


@pytest.fixture(scope="session")
def contract_artifact() -> dict[str, Any]:
    out = vyper.compile_code(TEST_CONTRACT, output_formats=["abi", "bytecode"])
    return {"abi": out["abi"], "bytecode": out["bytecode"]}


@pytest.fixture
def genesis_factory(signer: LocalAccount, users: list[LocalAccount]) -> Callable[..., dict[str, Any]]:
    def make(**kwargs: Any) -> dict[str, Any]:
        alloc = kwargs.pop("alloc", {u.address: 1000 * ETHER for u in users})
        return make_genesis([signer.address], CHAIN_ID, alloc, **kwargs)

    return make


@pytest.fixture
def node(genesis_factory: Callable[..., dict[str, Any]], signer: LocalAccount) -> Iterator[NodeHandle]:
    with run_node(genesis_factory(), signer.key, seal_mode="on-demand") as handle:
        yield handle


def make_web3(url: str) -> Web3:
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 30}))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


@pytest.fixture
def w3(node: NodeHandle) -> Web3:
    return make_web3(node.url)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the rpc-compat figures the conformance floor tests recorded (``record_property("rpc-compat", ...)``)."""
    figures = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        for key, value in getattr(report, "user_properties", ())
        if key == "rpc-compat" and getattr(report, "when", "call") == "call"
    ]
    if figures:
        terminalreporter.write_sep("-", "rpc-compat fixtures passing")
        for line in figures:
            terminalreporter.write_line(line)
