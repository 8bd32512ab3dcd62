"""Node test fixtures: deterministic keys, a genesis factory, an in-process node, web3 over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import vyper
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pamchain.node import make_genesis, run_node
from pamchain.node.service import NodeHandle
from web3 import HTTPProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware

from .boundary import ChainBoundary, Crossings

CHAIN_ID = 31337
ETHER = 10**18

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
