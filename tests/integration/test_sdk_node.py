"""The SDK's sender against pamchain's node over HTTP: concurrent senders, a second process, permissioning."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from eth_account import Account
from pamchain.node.rpc.limits import RpcLimits
from pamchain.sdk import errors
from pamchain.sdk.chain.deployer import deploy_plan
from pamchain.sdk.chain.transactions import Sender

from support.chains import pamchain_node
from support.world import standard_plan

pytestmark = pytest.mark.integration


def test_sender__concurrent_threads_and_second_client__no_nonce_collision(tmp_path: Path) -> None:
    # Eight gas estimates queue behind the node's two call workers: on a loaded machine (parallel test
    # workers) the default 5 s budget per call can run out before one starts; the budget is not under test.
    with pamchain_node(tmp_path, rpc_limits=RpcLimits(evm_timeout=60)) as env:
        client, _ = deploy_plan(env.w3, env.accounts["deployer"], standard_plan(env.accounts))
        alice = client.as_account(env.accounts["alice"])
        ids: list[int] = []
        failures: list[BaseException] = []

        def worker() -> None:
            try:
                ids.append(alice.request_unlock())
            except BaseException as exc:  # surfaced below
                failures.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures and len(set(ids)) == 8
        other_process = client.as_account(env.accounts["alice"])  # its own nonce counter, as another process
        other_process.request_unlock()
        alice.request_unlock()  # stale counter: repaired from the node's answer
        assert client.request_count() == 10


def test_sender__not_allowlisted__refused_and_nothing_mined(tmp_path: Path) -> None:
    with pamchain_node(tmp_path) as env:
        client, _ = deploy_plan(env.w3, env.accounts["deployer"], standard_plan(env.accounts))
        stranger = Account.create()
        env.w3.eth.send_raw_transaction(
            env.accounts["c1"]
            .sign_transaction(
                {
                    "to": stranger.address,
                    "value": 10**18,
                    "gas": 21000,
                    "maxFeePerGas": 10**10,
                    "maxPriorityFeePerGas": 10**9,
                    "nonce": env.w3.eth.get_transaction_count(env.accounts["c1"].address),
                    "chainId": 1337,
                }
            )
            .raw_transaction
        )
        env.w3.eth.wait_for_transaction_receipt(
            env.w3.eth.get_block("latest")["transactions"][-1], timeout=10
        )
        head = int(env.w3.eth.block_number)
        sender = Sender(env.w3, stranger)
        with pytest.raises(errors.TransactionFailed) as info:
            sender.send({"to": env.accounts["c1"].address, "value": 1, "gas": 21000})
        assert "allow" in str(info.value).lower() or "permission" in str(info.value).lower()
        with pytest.raises(errors.SdkError):
            client.as_account(stranger).transact("request_unlock")
        assert int(env.w3.eth.block_number) == head
