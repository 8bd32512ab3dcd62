"""Unmodified client libraries against a running node over HTTP: deploy compile_suite()'s Council and PamChain and run a
grant lifecycle (request -> approvals -> active -> revoke), decoding events with the library itself.

web3.py (with ExtraDataToPOAMiddleware for Clique's extraData and its own signing middleware) always runs;
ethers.js runs when npm can install it into the repository's .cache (skipped, saying so, without npm).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.contracts import compile_suite
from pamchain.node import make_genesis, run_node
from pamchain.node.service import NodeHandle
from web3 import HTTPProvider, Web3
from web3.logs import DISCARD
from web3.middleware import ExtraDataToPOAMiddleware, SignAndSendRawMiddlewareBuilder

from support.locks import NpmMissing, npm_installed

CHAIN_ID = 4711
HOUR = 3600
END_REVOKED = 2
A_ADD_MEMBER, APPLIED = 2, 1
ROLES = ("deployer", "c1", "c2", "c3", "alice", "bob", "carol", "oracle")
ROOT = Path(__file__).resolve().parents[2]
ETHERS_CACHE = ROOT / ".cache" / "ethers"
ETHERS_PACKAGE = "ethers@6.13.4"


def h(text: str) -> bytes:
    return keccak(text=text)


DOMAIN, GROUP = h("domain:corp"), h("group:domain-admins")
# Separate accounts for ethers.js: the web3.py test already used the same roles' nonces on the module's node.
ETHERS_KEYS = {name: "0x" + keccak(text=f"ethers-suite:{name}").hex() for name in ROLES}


@pytest.fixture(scope="module")
def actors() -> dict[str, LocalAccount]:
    return {name: Account.from_key(keccak(text=f"web3-suite:{name}")) for name in ROLES}


@pytest.fixture(scope="module")
def suite_node(actors: dict[str, LocalAccount]) -> Iterator[NodeHandle]:
    signer = Account.from_key(keccak(text="web3-suite:signer"))
    # make_genesis allowlists the funded accounts: fund the ethers.js accounts up front too.
    funded = [a.address for a in actors.values()] + [
        Account.from_key(k).address for k in ETHERS_KEYS.values()
    ]
    genesis = make_genesis([signer.address], CHAIN_ID, dict.fromkeys(funded, 10**21))
    with run_node(genesis, signer.key, seal_mode="on-demand") as node:
        yield node


def _web3(url: str, actors: dict[str, LocalAccount]) -> Web3:
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 30}))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(list(actors.values())), layer=0)
    return w3


def test_web3__deploy_and_grant_lifecycle(suite_node: NodeHandle, actors: dict[str, LocalAccount]) -> None:
    suite = compile_suite()
    artifact, council_artifact = suite["PamChain"], suite["Council"]
    w3 = _web3(suite_node.url, actors)
    a = {name: acct.address for name, acct in actors.items()}

    def send(fn: Any, sender: str) -> Any:
        receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}), timeout=30)
        assert receipt["status"] == 1
        return receipt

    council_factory = w3.eth.contract(abi=council_artifact["abi"], bytecode=council_artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        council_factory.constructor([a["c1"], a["c2"], a["c3"]], 2, 86_400, 86_400).transact(
            {"from": a["deployer"]}
        )
    )
    council = w3.eth.contract(address=receipt["contractAddress"], abi=council_artifact["abi"])
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(council.address).transact({"from": a["deployer"]})
    )
    pam = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    assert w3.eth.get_code(pam.address).to_0x_hex() == artifact["bytecode_runtime"]

    ids = {n: h(f"principal:{n}") for n in ("alice", "bob", "carol")}
    send(pam.functions.set_oracle(DOMAIN, a["oracle"], h("x25519")), a["deployer"])
    for name, directory_id in ids.items():
        send(pam.functions.enrol(a[name], directory_id, DOMAIN), a["deployer"])
    send(
        pam.functions.set_policy(
            *(GROUP, DOMAIN, 2, 8 * HOUR, HOUR, False, True, 0, 0, [ids["bob"], ids["carol"]]),
            *([ids["alice"]], 0, 0, 0),
        ),
        a["deployer"],
    )
    send(council.functions.end_bootstrap(), a["deployer"])

    receipt = send(pam.functions.request_elevation(GROUP, HOUR, h("why"), h("CHG-1"), False), a["alice"])
    (created,) = pam.events.RequestCreated().process_receipt(receipt, errors=DISCARD)
    request_id = created.args.request_id
    assert (created.args.subject, created.args.target, created.args.approvals_required) == (
        ids["alice"],
        GROUP,
        2,
    )

    receipt = send(pam.functions.approve(request_id), a["bob"])
    assert pam.events.ApprovalCast().process_receipt(receipt, errors=DISCARD)[0].args.approvals == 1
    receipt = send(pam.functions.approve(request_id), a["carol"])
    (activated,) = pam.events.GrantActivated().process_receipt(receipt, errors=DISCARD)
    block = w3.eth.get_block(receipt["blockNumber"])
    assert activated.args.request_id == request_id
    assert (activated.args.start, activated.args.expiry) == (block["timestamp"], block["timestamp"] + HOUR)
    assert pam.functions.is_active(request_id).call()

    receipt = send(
        pam.functions.post_receipt(request_id, A_ADD_MEMBER, APPLIED, h("d"), h("dc1")), a["oracle"]
    )
    assert pam.events.ReceiptPosted().process_receipt(receipt, errors=DISCARD)[0].args.action == A_ADD_MEMBER

    receipt = send(pam.functions.revoke(request_id), a["alice"])
    (ended,) = pam.events.GrantEnded().process_receipt(receipt, errors=DISCARD)
    assert (ended.args.request_id, ended.args.reason, ended.args.by) == (request_id, END_REVOKED, a["alice"])
    assert not pam.functions.is_active(request_id).call()

    # The same history through eth_getLogs, decoded by web3's event filters (what an indexer would do).
    logs = pam.events.GrantEnded().get_logs(from_block=0)
    assert [e.args.request_id for e in logs] == [request_id]


ETHERS_SCRIPT = r"""
const { ethers } = require("ethers");
const [url, artifactPath, keysPath, councilPath] = process.argv.slice(2);
const fs = require("fs");
const artifact = JSON.parse(fs.readFileSync(artifactPath, "utf8"));
const councilArtifact = JSON.parse(fs.readFileSync(councilPath, "utf8"));
const keys = JSON.parse(fs.readFileSync(keysPath, "utf8"));
const h = (t) => ethers.keccak256(ethers.toUtf8Bytes(t));
async function main() {
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });
  const w = Object.fromEntries(Object.entries(keys).map(([n, k]) => [n, new ethers.Wallet(k, provider)]));
  const addr = Object.fromEntries(Object.entries(keys).map(([n, k]) => [n, new ethers.Wallet(k).address]));
  const send = async (p) => { const r = await (await p).wait(); if (r.status !== 1) throw new Error("failed"); return r; };
  const councilFactory = new ethers.ContractFactory(councilArtifact.abi, councilArtifact.bytecode, w.deployer);
  const council = await councilFactory.deploy([addr.c1, addr.c2, addr.c3], 2, 86400, 86400);
  await council.waitForDeployment();
  const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, w.deployer);
  const deployed = await factory.deploy(await council.getAddress());
  await deployed.waitForDeployment();
  const pam = (who) => deployed.connect(w[who]);
  const ids = { alice: h("principal:alice"), bob: h("principal:bob"), carol: h("principal:carol") };
  const DOMAIN = h("domain:corp"), GROUP = h("group:domain-admins");
  await send(pam("deployer").set_oracle(DOMAIN, addr.oracle, h("x25519")));
  for (const n of ["alice", "bob", "carol"]) await send(pam("deployer").enrol(addr[n], ids[n], DOMAIN));
  await send(pam("deployer").set_policy(GROUP, DOMAIN, 2, 8 * 3600, 3600, false, true, 0, 0, [ids.bob, ids.carol], [ids.alice], 0, 0, 0));
  await send(council.end_bootstrap());
  const events = (r, name) => r.logs.map((l) => { try { return deployed.interface.parseLog(l); } catch { return null; } })
    .filter((e) => e && e.name === name);
  let r = await send(pam("alice").request_elevation(GROUP, 3600, h("why"), h("CHG-2"), false));
  const requestId = events(r, "RequestCreated")[0].args.request_id;
  await send(pam("bob").approve(requestId));
  r = await send(pam("carol").approve(requestId));
  const activated = events(r, "GrantActivated")[0];
  const active = await deployed.is_active(requestId);
  r = await send(pam("alice").revoke(requestId));
  const ended = events(r, "GrantEnded")[0];
  console.log(JSON.stringify({
    requestId: requestId.toString(), activated: activated.args.request_id.toString(), active,
    endedReason: Number(ended.args.reason), endedBy: ended.args.by, stillActive: await deployed.is_active(requestId),
  }));
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
"""


def _ethers() -> Path:
    """ethers.js installed once into the repository's .cache (HOME there too: nothing left elsewhere)."""
    try:
        npm_installed(ETHERS_CACHE, ETHERS_PACKAGE, ETHERS_CACHE / "node_modules" / "ethers")
    except NpmMissing:
        pytest.skip("npm/node not installed: the ethers.js client check needs them (web3.py ran)")
    return ETHERS_CACHE / "node_modules"


def test_ethers__deploy_and_grant_lifecycle(
    suite_node: NodeHandle, actors: dict[str, LocalAccount], tmp_path: Path
) -> None:
    modules = _ethers()
    suite = compile_suite()
    for name, file in (("PamChain", "artifact.json"), ("Council", "council.json")):
        (tmp_path / file).write_text(
            json.dumps({"abi": suite[name]["abi"], "bytecode": suite[name]["bytecode"]})
        )
    keys = ETHERS_KEYS
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    (tmp_path / "lifecycle.js").write_text(ETHERS_SCRIPT)
    out = subprocess.run(
        [
            "node",
            str(tmp_path / "lifecycle.js"),
            suite_node.url,
            str(tmp_path / "artifact.json"),
            str(tmp_path / "keys.json"),
            str(tmp_path / "council.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(modules), "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, re.sub(r"[0-9a-fA-F]{64,}", "<hex>", out.stderr)[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["activated"] == result["requestId"]
    assert result["active"] is True
    assert result["endedReason"] == END_REVOKED
    assert result["endedBy"] == Account.from_key(keys["alice"]).address
    assert result["stillActive"] is False
