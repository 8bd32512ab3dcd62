"""The SDK's transports against a real node: what web3 asks the node for, per call, and what the JSON-RPC
and WebSocket connections take from the environment, and when."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_typing import HexStr
from eth_utils import keccak
from pamchain.node import make_genesis, run_node
from pamchain.node.genesis import deployment_genesis
from pamchain.node.rpc.limits import RpcLimits
from pamchain.sdk.chain.client import connect
from pamchain.sdk.chain.deployer import deploy_plan
from pamchain.sdk.chain.transactions import Sender
from pamchain.sdk.oracle.follower import Follower
from pamchain.sdk.oracle.heads import HeadWatch, ws_url_for
from pamchain.sdk.oracle.journal import Journal
from web3 import EthereumTesterProvider, Web3
from web3.types import Wei

from support import chains
from support.rpc import free_port
from support.world import DOMAIN, standard_plan


def _requests_by_method(metrics_url: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in requests.get(metrics_url, timeout=10).text.splitlines():
        if line.startswith("pamchain_node_rpc_request_seconds_count{"):
            method = line.split('method="', 1)[1].split('"', 1)[0]
            counts[method] = float(line.rsplit(" ", 1)[1])
    return counts


def test_connect__asks_the_chain_id_once__not_with_every_call(tmp_path: Path) -> None:
    """web3's validation of eth_call / eth_estimateGas asks ``eth_chainId`` first: twice a call, unless the
    connection remembers it (an endpoint's chain id does not change under it)."""
    signer = Account.from_key(keccak(text="transport-signer"))
    user = Account.from_key(keccak(text="transport-user"))
    genesis = make_genesis([signer.address], 4242, {user.address: 10**21})
    with run_node(genesis, signer.key, tmp_path / "node", enable_metrics=True) as node:
        w3 = connect(node.url)
        for _ in range(5):
            assert w3.eth.call({"to": user.address, "data": b""}) == b""
            assert (
                w3.eth.estimate_gas({"from": user.address, "to": signer.address, "value": Wei(1)}) == 21_000
            )
        counts = _requests_by_method(node.url.rstrip("/") + "/metrics")
    assert counts.get("eth_call") == 5 and counts.get("eth_estimateGas") == 5
    assert counts.get("eth_chainId") == 2  # web3 sets up its cache with one, then caches the next


def test_follower__following_the_head__asks_for_the_final_block_once_a_poll(tmp_path: Path) -> None:
    """A poll reads the final block, checks the checkpoint's hash and records the new final block's: the
    final block's own answer names both hashes (its own, its parent's), so following the head asks the node
    for one block a poll, and the checkpoint is still checked against the node's current chain."""
    accounts = chains.test_accounts()
    signer = Account.from_key(keccak(text="transport-signer"))
    genesis = deployment_genesis(
        [signer.address], 4243, {a.address: 10**24 for a in accounts.values()}, accounts["deployer"].address
    )
    with run_node(genesis, signer.key, tmp_path / "node", enable_metrics=True) as node:
        client, deployment = deploy_plan(connect(node.url), accounts["deployer"], standard_plan(accounts))
        follower = Follower(
            client, Journal(tmp_path / "journal.sqlite3"), DOMAIN, start_block=deployment.block
        )
        follower.poll()
        alice = client.as_account(accounts["alice"])
        metrics = node.url.rstrip("/") + "/metrics"
        for _ in range(3):
            alice.request_unlock()
            before = _requests_by_method(metrics).get("eth_getBlockByNumber", 0)
            assert follower.poll() == 1  # the unlock, journalled
            assert _requests_by_method(metrics)["eth_getBlockByNumber"] - before == 1
        checkpoint = follower.journal.checkpoint()
        assert checkpoint is not None
        assert checkpoint[1] == client.w3.eth.get_block(checkpoint[0])["hash"].to_0x_hex()


def test_send__node_with_eip_7966__receipt_in_the_sending_request(tmp_path: Path) -> None:
    """``eth_sendRawTransactionSync``: one request a transaction, no receipt polls, and the receipt the
    same as ``eth_getTransactionReceipt``'s."""
    signer = Account.from_key(keccak(text="transport-signer"))
    user = Account.from_key(keccak(text="transport-user"))
    genesis = make_genesis([signer.address], 4244, {user.address: 10**21})
    with run_node(genesis, signer.key, tmp_path / "node", enable_metrics=True) as node:
        w3 = connect(node.url)
        sender = Sender(w3, user)
        sent = [sender.send({"to": signer.address, "value": Wei(1)}) for _ in range(4)]
        counts = _requests_by_method(node.url.rstrip("/") + "/metrics")
        assert [s.receipt["status"] for s in sent] == [1, 1, 1, 1]
        assert sent[-1].receipt == w3.eth.get_transaction_receipt(HexStr(sent[-1].tx_hash))
    assert counts.get("eth_sendRawTransactionSync") == 4
    assert "eth_sendRawTransaction" not in counts and "eth_getTransactionReceipt" not in counts


def test_send__node_gives_up_waiting__receipt_polled_as_before(tmp_path: Path) -> None:
    """Error 4 (the node's wait ended before a block came: 1 s blocks, a 50 ms wait) leaves the transaction
    pooled; the SDK polls for its receipt."""
    signer = Account.from_key(keccak(text="transport-signer"))
    user = Account.from_key(keccak(text="transport-user"))
    genesis = make_genesis([signer.address], 4245, {user.address: 10**21}, period=1)
    limits = RpcLimits(send_sync_timeout=0.05)
    with run_node(
        genesis, signer.key, tmp_path / "node", seal_mode="period", enable_metrics=True, rpc_limits=limits
    ) as node:
        w3 = connect(node.url)
        sent = Sender(w3, user).send({"to": signer.address, "value": Wei(1)})
        counts = _requests_by_method(node.url.rstrip("/") + "/metrics")
    assert sent.receipt["status"] == 1
    assert counts.get("eth_sendRawTransactionSync") == 1 and counts.get("eth_getTransactionReceipt", 0) >= 1


def test_send__provider_without_eip_7966__classic_send_remembered() -> None:
    """eth-tester answers -32601: the transaction goes by ``eth_sendRawTransaction``, and later ones go
    that way without asking again."""
    asked: list[str] = []

    class Counting(EthereumTesterProvider):
        def make_request(self, method: Any, params: Any) -> Any:
            asked.append(str(method))
            return super().make_request(method, params)

    w3 = Web3(Counting())
    funded = w3.eth.accounts[0]
    user = Account.from_key(keccak(text="transport-user"))
    w3.eth.send_transaction({"from": funded, "to": user.address, "value": Wei(10**20)})
    sender = Sender(w3, user)
    for _ in range(3):
        assert sender.send({"to": funded, "value": Wei(1)}).receipt["status"] == 1
    assert asked.count("eth_sendRawTransactionSync") == 1
    assert asked.count("eth_sendRawTransaction") == 3


class _RecordingProxy(ThreadingHTTPServer):
    """A plain HTTP forward proxy on loopback that notes every request it carries to the node."""

    def __init__(self) -> None:
        self.carried: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _RecordingProxy

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.carried.append(self.path)
        direct = requests.Session()
        direct.trust_env = False
        answer = direct.post(self.path, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _proxy() -> Iterator[_RecordingProxy]:
    server = _RecordingProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _without_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def bare_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One in-process node with no accounts for the tests of what a connection takes from the environment."""
    signer = Account.from_key(keccak(text="transport-signer"))
    genesis = make_genesis([signer.address], 4244, {})
    with run_node(genesis, signer.key, tmp_path_factory.mktemp("bare") / "node") as node:
        yield node


def test_connect__proxy_named_in_the_environment_at_connect__carries_the_calls(
    bare_node: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever starts the oracle behind an HTTP proxy names it the usual way, and the connection uses it."""
    _without_proxy_settings(monkeypatch)
    with _proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        w3 = connect(bare_node.url)
        assert w3.eth.block_number >= 0
    assert proxy.carried and all(path.startswith(bare_node.url.rstrip("/")) for path in proxy.carried)


def test_connect__environment_changed_after_connect__the_connection_keeps_its_settings(
    bare_node: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment is read once, when the connection is made: a proxy named later (here a dead one) is
    not used, so the calls still reach the node."""
    _without_proxy_settings(monkeypatch)
    w3 = connect(bare_node.url)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    assert w3.eth.block_number >= 0


def test_connect__environment_changing_while_a_thread_calls__no_call_fails(
    bare_node: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live world's oracle thread died of ``KeyError: 'PYTEST_CURRENT_TEST'``: requests read the proxy
    settings from ``os.environ`` on every call, and iterating the environment raises when another thread
    deletes a variable in between (pytest sets and deletes that one around every test). A daemon thread in
    any process whose environment changes at run time could die the same way. Here the main thread sets and
    deletes a variable while another thread calls the node; a tiny switch interval makes the interleaving
    frequent."""
    _without_proxy_settings(monkeypatch)
    monkeypatch.setenv("NO_PROXY", "example.invalid")  # a proxy setting, so a proxy lookup has work to do
    errors: list[BaseException] = []
    w3 = connect(bare_node.url)

    def calls() -> None:
        try:
            for _ in range(400):
                assert w3.eth.block_number >= 0
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    caller = threading.Thread(target=calls)
    try:
        caller.start()
        while caller.is_alive():
            os.environ["PAMCHAIN_TOGGLED"] = "1"
            del os.environ["PAMCHAIN_TOGGLED"]
    finally:
        sys.setswitchinterval(interval)
        caller.join(60)
    assert errors == []


def test_head_watch__proxy_named_after_it_was_made__not_used(
    bare_node: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oracle's newHeads subscription takes its proxy from the environment when the watch is made, like
    its JSON-RPC connection: a (dead) proxy named later does not stop it subscribing."""
    _without_proxy_settings(monkeypatch)
    watch = HeadWatch(ws_url_for(bare_node.url), lambda: None)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    watch.start()
    try:
        assert watch.connected.wait(30), "no newHeads subscription"
    finally:
        watch.stop()
