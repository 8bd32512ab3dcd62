"""A node as its own ``python -m pamchain.node run`` process (period sealing, empty blocks), for tests that
measure what a hostile client does to block production: the client must not share the node's interpreter."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from pamchain.devnet.processes import stop_process
from pamchain.node import make_genesis

from support.node_process import init_node, start_node
from support.rpc import free_port

PASSWORD = "node process test"
# Runtime code of an endless loop: JUMPDEST, PUSH1 0, JUMP. It burns whatever gas a call is given.
LOOP_CODE = "0x5b600056"
LOOP_ADDRESS = "0x" + "10" * 20
# Runtime code that logs once per call (LOG0 of nothing) and stops: PUSH1 0, PUSH1 0, LOG0, STOP.
LOGGER_CODE = "0x60006000a000"
LOGGER_ADDRESS = "0x" + "20" * 20


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class RpcClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False

    def post(self, body: Any, timeout: float = 60) -> requests.Response:
        return self.session.post(self.url, data=json.dumps(body), timeout=timeout,
                                 headers={"Content-Type": "application/json"})  # fmt: skip

    def request(self, method: str, *params: Any, timeout: float = 60) -> dict[str, Any]:
        """The whole JSON-RPC response (``result`` or ``error``)."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        reply: dict[str, Any] = self.post(body, timeout).json()
        return reply

    def call(self, method: str, *params: Any, timeout: float = 60) -> Any:
        reply = self.request(method, *params, timeout=timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def head(self) -> int:
        return int(self.call("eth_blockNumber"), 16)


def receipt(client: RpcClient, tx_hash: str, timeout: float = 30) -> dict[str, Any]:
    """The receipt of ``tx_hash`` once it is sealed."""

    def found() -> Any:
        return client.call("eth_getTransactionReceipt", tx_hash)

    result: dict[str, Any] = wait_until(found, timeout, f"the receipt of {tx_hash}")
    return result


def log_in_one_block(client: RpcClient, sender: LocalAccount, count: int, chain_id: int = 31337) -> int:
    """Send ``count`` calls to the logger at once (they land in one block); returns that block's number."""
    fees: dict[str, Any] = {
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "chainId": chain_id,
        "gas": 50_000,
    }
    first = int(client.call("eth_getTransactionCount", sender.address, "pending"), 16)
    hashes = []
    for i in range(count):
        tx: dict[str, Any] = {"to": LOGGER_ADDRESS, "nonce": first + i, "value": 0, **fees}
        raw = sender.sign_transaction(tx).raw_transaction
        hashes.append(client.call("eth_sendRawTransaction", "0x" + raw.hex()))
    receipts = [receipt(client, h) for h in hashes]
    blocks = {r["blockNumber"] for r in receipts}
    assert len(blocks) == 1, blocks
    return int(blocks.pop(), 16)


@dataclass
class NodeProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def rpc(self) -> RpcClient:
        return RpcClient(self.url)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def node_process(
    root: Path, signer: LocalAccount, funded: Sequence[str], extra_args: Sequence[str] = (), period: int = 1
) -> Iterator[NodeProcess]:
    """A single-validator node sealing a block every ``period`` s (empty ones too), with the loop and logger
    contracts in its genesis."""
    genesis = make_genesis(
        [signer.address], 31337, {a: 10**24 for a in funded}, period=period,
        extra_alloc={
            LOOP_ADDRESS: {"balance": "0x0", "code": LOOP_CODE},
            LOGGER_ADDRESS: {"balance": "0x0", "code": LOGGER_CODE},
        },
    )  # fmt: skip
    files = init_node(root, genesis, bytes(signer.key), password=PASSWORD)
    port = free_port()
    log = root / "node.log"
    proc = start_node(files, port, ["--period", str(period), "--allow-empty", *extra_args], log=log)
    node = NodeProcess(proc, port, log)
    try:
        client = node.rpc()

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"node exited:\n{node.tail()}")
            try:
                return client.head() >= 1
            except requests.RequestException:
                return False

        wait_until(up, 60, "the node process to serve and seal")
        yield node
    finally:
        stop_process(proc, grace=20)
