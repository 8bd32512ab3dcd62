"""Grant-like workload throughput: pamchain node over JSON-RPC vs raw py-evm ``mine_all`` vs eth-tester.

Workload (as in notes/performance-baseline.md): a Vyper ``grant(address,bytes32,uint256)`` writing a 3-slot
struct, bumping a counter and logging an event; type-2 transactions, pre-signed (signing not timed), one
sender. The node runs as a separate process (seal-on-demand, on-disk SQLite store); the client sends
JSON-RPC batches of 100 ``eth_sendRawTransaction`` and waits for the last receipt. Figures are reported as
ratios taken in the same run, plus the node's RSS.

    .venv/bin/python bench/node_throughput.py [--txs 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import vyper
from eth_account import Account
from pamchain.node import contract_address, make_genesis
from pamchain.node.keys import write_keystore

CHAIN_ID = 4242
GRANT = """
# pragma version ^0.4.0
struct Grant:
    who: address
    role: bytes32
    expiry: uint256

event Granted:
    id: indexed(uint256)
    who: indexed(address)
    role: bytes32
    expiry: uint256

grants: public(HashMap[uint256, Grant])
count: public(uint256)

@external
def grant(who: address, role: bytes32, expiry: uint256):
    self.count += 1
    self.grants[self.count] = Grant(who=who, role=role, expiry=expiry)
    log Granted(id=self.count, who=who, role=role, expiry=expiry)
"""


def compile_grant() -> tuple[list, str]:
    out = vyper.compile_code(GRANT, output_formats=["abi", "bytecode"])
    return out["abi"], out["bytecode"]


def presign(sender, abi, bytecode, n: int, base_fee_cap: int = 10**10) -> tuple[bytes, list[bytes], bytes]:
    from web3 import Web3

    contract = Web3().eth.contract(abi=abi)
    deploy = sender.sign_transaction(
        {
            "data": bytecode,
            "gas": 2_000_000,
            "maxFeePerGas": base_fee_cap,
            "maxPriorityFeePerGas": 1,
            "nonce": 0,
            "chainId": CHAIN_ID,
            "value": 0,
        }
    )
    target = Web3.to_checksum_address(contract_address(bytes.fromhex(sender.address[2:]), 0))
    txs = []
    for i in range(n):
        data = contract.encode_abi("grant", [sender.address, b"\x01" * 32, 10_000 + i])
        txs.append(
            bytes(
                sender.sign_transaction(
                    {
                        "to": target,
                        "data": data,
                        "gas": 150_000,
                        "maxFeePerGas": base_fee_cap,
                        "maxPriorityFeePerGas": 1,
                        "nonce": i + 1,
                        "chainId": CHAIN_ID,
                        "value": 0,
                    }
                ).raw_transaction
            )
        )
    return bytes(deploy.raw_transaction), txs, bytes.fromhex(target[2:])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_node(n: int) -> tuple[float, float, float]:
    signer, sender = Account.from_key(b"\x01" * 32), Account.from_key(b"\x02" * 32)
    abi, bytecode = compile_grant()
    deploy, txs, _target = presign(sender, abi, bytecode, n)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "genesis.json").write_text(
            json.dumps(
                make_genesis([signer.address], CHAIN_ID, {sender.address: 10**24}, gas_limit=100_000_000)
            )
        )
        write_keystore(root / "key.json", bytes(signer.key), "pw", iterations=2)
        (root / "pw").write_text("pw")
        run = [sys.executable, "-m", "pamchain.node"]
        subprocess.run(
            [*run, "init", "--datadir", str(root / "d"), "--genesis", str(root / "genesis.json")],
            check=True,
            capture_output=True,
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [
                *run,
                "run",
                "--datadir",
                str(root / "d"),
                "--keystore",
                str(root / "key.json"),
                "--password-file",
                str(root / "pw"),
                "--rpc-port",
                str(port),
                "--seal-on-demand",
            ],
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        session = requests.Session()
        session.trust_env = False

        def call(method: str, *params) -> object:
            return (
                session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
                .json()
                .get("result")
            )

        try:
            for _ in range(300):
                try:
                    call("eth_blockNumber")
                    break
                except requests.ConnectionError:
                    time.sleep(0.05)
            h = call("eth_sendRawTransaction", "0x" + deploy.hex())
            while call("eth_getTransactionReceipt", h) is None:
                time.sleep(0.01)
            start_block = int(call("eth_blockNumber"), 16)
            t0 = time.perf_counter()
            last = None
            for i in range(0, n, 100):
                body = [
                    {
                        "jsonrpc": "2.0",
                        "id": j,
                        "method": "eth_sendRawTransaction",
                        "params": ["0x" + raw.hex()],
                    }
                    for j, raw in enumerate(txs[i : i + 100])
                ]
                replies = session.post(url, json=body).json()
                errors = [r for r in replies if "error" in r]
                assert not errors, errors[:2]
                last = replies[-1]["result"]
            while True:
                receipt = call("eth_getTransactionReceipt", last)
                if receipt is not None:
                    break
                time.sleep(0.005)
            elapsed = time.perf_counter() - t0
            blocks = int(call("eth_blockNumber"), 16) - start_block
            assert receipt["status"] == "0x1"
            return n / elapsed, rss_mib(proc.pid), blocks
        finally:
            proc.terminate()
            proc.wait(30)


def bench_raw_pyevm(n: int, block_size: int = 500) -> float:
    from eth import constants
    from eth.chains.base import MiningChain
    from eth.db.atomic import AtomicDB
    from eth.vm.forks import PragueVM

    sender = Account.from_key(b"\x02" * 32)
    abi, bytecode = compile_grant()
    deploy, txs, _target = presign(sender, abi, bytecode, n)
    klass = MiningChain.configure(__name__="Bench", vm_configuration=((0, PragueVM),), chain_id=CHAIN_ID)
    genesis_params = {
        "difficulty": 0,
        "gas_limit": 100_000_000,
        "timestamp": int(time.time()) - 100_000,
        "coinbase": constants.ZERO_ADDRESS,
        "base_fee_per_gas": 10**9,
    }
    chain = klass.from_genesis(
        AtomicDB(),
        genesis_params,
        {bytes.fromhex(sender.address[2:]): {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}}},
    )
    builder = PragueVM.get_transaction_builder()
    ts = genesis_params["timestamp"]
    ts += 1
    chain.mine_all([builder.decode(deploy)], timestamp=ts)
    decoded = [builder.decode(raw) for raw in txs]
    t0 = time.perf_counter()
    for i in range(0, n, block_size):
        ts += 1
        chain.mine_all(decoded[i : i + block_size], timestamp=ts)
    return n / (time.perf_counter() - t0)


def bench_eth_tester(n: int) -> float:
    from web3 import EthereumTesterProvider, Web3

    w3 = Web3(EthereumTesterProvider())
    funder = w3.eth.accounts[0]
    sender = Account.from_key(b"\x02" * 32)
    w3.eth.send_transaction({"from": funder, "to": sender.address, "value": 10**22})
    abi, bytecode = compile_grant()
    global CHAIN_ID
    saved, CHAIN_ID = CHAIN_ID, w3.eth.chain_id
    try:
        deploy, txs, _ = presign(sender, abi, bytecode, n, base_fee_cap=10**11)
    finally:
        CHAIN_ID = saved
    w3.eth.send_raw_transaction(deploy)
    t0 = time.perf_counter()
    for raw in txs:
        w3.eth.send_raw_transaction(raw)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--txs", type=int, default=2000)
    parser.add_argument("--tester-txs", type=int, default=300)
    args = parser.parse_args()
    node_tps, rss, blocks = bench_node(args.txs)
    raw_tps = bench_raw_pyevm(args.txs)
    tester_tps = bench_eth_tester(args.tester_txs)
    print(
        json.dumps(
            {
                "txs": args.txs,
                "node_jsonrpc_tx_per_s": round(node_tps, 1),
                "node_blocks": blocks,
                "node_rss_mib": round(rss, 1),
                "raw_pyevm_mine_all_tx_per_s": round(raw_tps, 1),
                "eth_tester_web3_automine_tx_per_s": round(tester_tps, 1),
                "node_vs_raw_pyevm": round(node_tps / raw_tps, 2),
                "node_vs_eth_tester": round(node_tps / tester_tps, 2),
                "coincurve": _has_coincurve(),
                "pid": os.getpid(),
            },
            indent=2,
        )
    )


def _has_coincurve() -> bool:
    from eth_keys.backends import get_backend

    return type(get_backend()).__name__ == "CoinCurveECCBackend"


if __name__ == "__main__":
    main()
