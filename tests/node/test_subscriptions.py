"""WebSocket ``eth_subscribe``: newHeads and logs arrive for a sealed block."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from eth_account.signers.local import LocalAccount
from pamchain.node.service import NodeHandle

from .conftest import CHAIN_ID


def test_new_heads_and_logs(
    node: NodeHandle, users: list[LocalAccount], contract_artifact: dict[str, Any]
) -> None:
    import aiohttp

    deployer = users[0]
    deploy = deployer.sign_transaction(
        {
            "data": contract_artifact["bytecode"],
            "gas": 1_000_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1,
            "nonce": 0,
            "chainId": CHAIN_ID,
            "value": 0,
        }
    )

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with aiohttp.ClientSession() as session, session.ws_connect(node.ws_url) as ws:

            async def rpc(method: str, *params: Any) -> Any:
                await ws.send_str(
                    json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
                )
                while True:
                    msg = json.loads((await ws.receive()).data)
                    if msg.get("id") == 1:
                        return msg["result"]

            heads_id = await rpc("eth_subscribe", "newHeads")
            logs_id = await rpc("eth_subscribe", "logs", {})
            await rpc("eth_sendRawTransaction", "0x" + deploy.raw_transaction.hex())
            heads: list[Any] = []
            logs: list[Any] = []
            while not heads:
                msg = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
                if msg.get("method") == "eth_subscription":
                    target = heads if msg["params"]["subscription"] == heads_id else logs
                    target.append(msg["params"]["result"])
            assert await rpc("eth_unsubscribe", logs_id) is True
            return heads, logs

    heads, _logs = asyncio.run(scenario())
    assert heads[0]["number"] == "0x1" and heads[0]["difficulty"] == "0x2"
