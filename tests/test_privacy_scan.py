"""No personal data on chain (issue 16): run the devnet's stories, then read every block (all fields, every
transaction's input), every receipt and every log over JSON-RPC, and look for the demo people's names, account
names, DNs and e-mail addresses in clear, UTF-16, hex text, and as the plain keccak anyone could compute from a
guess. None may occur: on chain there are only keyed pseudonyms and salted hashes."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from eth_utils import keccak
from pamchain.devnet.runner import DevnetInfo, run_devnet
from pamchain.devnet.world import NEW_PASSWORD, PEOPLE, PSEUDONYM_KEY
from pamchain.sdk.directory import group_target_id

REPO = Path(__file__).resolve().parents[1]
DOMAIN_DN = "DC=corp,DC=example"
JUSTIFICATION = "patch the DCs"  # the scenario's: sealed off chain, never in clear nor as a plain hash


def personal_terms(info: DevnetInfo) -> list[str]:
    group_cn = info.group_dn.split(",")[0].removeprefix("CN=")
    terms = [info.group_dn, group_cn, JUSTIFICATION, NEW_PASSWORD]
    for name in PEOPLE:
        terms += [
            name,  # the sAMAccountName
            name.capitalize(),  # the display name the devnet's phone app labels them with
            f"CN={name},CN=Users,{DOMAIN_DN}",
            f"{name}@corp.example",
        ]
    return terms


def encodings(term: str) -> dict[str, bytes]:
    """Every form a term could take in chain data (searched in decoded bytes, so byte-aligned)."""
    forms: dict[str, bytes] = {}
    for variant in {term, term.lower(), term.upper()}:
        raw = variant.encode("utf-8")
        forms[f"utf-8 {variant!r}"] = raw
        forms[f"utf-16le {variant!r}"] = variant.encode("utf-16-le")
        forms[f"hex text {variant!r}"] = raw.hex().encode()
        forms[f"keccak {variant!r}"] = keccak(raw)
    return forms


def _rpc(url: str, method: str, *params: Any) -> Any:
    response = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30
    )
    body = response.json()
    assert "error" not in body, body
    return body["result"]


def _blobs(value: Any, where: str) -> Iterator[tuple[str, bytes]]:
    """Every leaf of a JSON-RPC answer as bytes: 0x-hex decoded, other strings as UTF-8."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _blobs(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _blobs(item, f"{where}[{index}]")
    elif isinstance(value, str):
        text = value[2:] if value.startswith("0x") else None
        if text is not None and len(text) % 2 == 0:
            try:
                yield where, bytes.fromhex(text)
                return
            except ValueError:
                pass
        yield where, value.encode("utf-8")


def chain_data(url: str) -> list[tuple[str, bytes]]:
    head = int(_rpc(url, "eth_blockNumber"), 16)
    found: list[tuple[str, bytes]] = []
    for number in range(head + 1):
        block = _rpc(url, "eth_getBlockByNumber", hex(number), True)
        found += _blobs(block, f"block {number}")
        for tx in block["transactions"]:
            found += _blobs(_rpc(url, "eth_getTransactionReceipt", tx["hash"]), f"receipt {tx['hash']}")
    found += _blobs(_rpc(url, "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head)}), "logs")
    return found


def test_devnet_stories__no_personal_data_in_any_block_receipt_or_log() -> None:
    scanned: dict[str, Any] = {}

    def scan(info: DevnetInfo) -> None:
        data = chain_data(info.rpc_url)
        scanned["blobs"] = len(data)
        scanned["bytes"] = sum(len(b) for _, b in data)
        scanned["requests"] = int(_rpc(info.rpc_url, "eth_blockNumber"), 16)
        hits = []
        for term in personal_terms(info):
            for form, needle in encodings(term).items():
                hits += [f"{form} in {where}" for where, blob in data if needle in blob]
        scanned["hits"] = hits
        # Positive controls: the scanner does find what is on chain (the domain id is its name, padded; the
        # group id is keyed, so the plain keccak of its DN must be absent while the keyed id is present).
        scanned["control"] = any(b"corp.example" in blob for _, blob in data)
        keyed = group_target_id(PSEUDONYM_KEY, info.group_dn)
        scanned["keyed_group"] = any(keyed in blob for _, blob in data)

    run_devnet(port=0, payload_port=0, grant_seconds=2, keep_running=False, echo=lambda _: None, ready=scan)
    assert scanned["bytes"] > 50_000  # the whole chain was read: deployments, stories, receipts
    assert scanned["control"] and scanned["keyed_group"]
    assert scanned["hits"] == []


_DN = re.compile(r"CN=[^\"'\n]*?DC=[A-Za-z0-9-]+(?:,DC=[A-Za-z0-9-]+)*")
_PLAIN_HASH_CALL = re.compile(r"keccak\(\s*text\s*=\s*f?[\"']CN=")


def _mapping_files() -> list[Path]:
    """Every file that maps policy targets to groups: shipped examples, the devnet and demo, the test worlds."""
    files = [*(REPO / "docs" / "deploy").glob("*.toml"), REPO / "web" / "server.py"]
    for folder in ("devnet", "support", "tests"):
        files += (REPO / folder).rglob("*.py")
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


def test_group_targets__keyed_wherever_a_target_is_mapped_to_a_group() -> None:
    files = {f: f.read_text("utf-8") for f in _mapping_files()}
    dns = {dn for text in files.values() for dn in _DN.findall(text)}
    assert "CN=Domain Admins,CN=Users,DC=corp,DC=example" in dns  # the scanner sees the DNs it must
    plain = {keccak(text=v).hex(): dn for dn in dns for v in (dn, dn.lower())}
    hits = [
        f"{f.relative_to(REPO)}: keccak({dn!r})"
        for f, text in files.items()
        for h, dn in plain.items()
        if h in text.lower()
    ]
    hits += [
        f"{f.relative_to(REPO)}: keccak(text=DN)"
        for f, text in files.items()
        if _PLAIN_HASH_CALL.search(text)
    ]
    assert hits == []
    # The shipped oracle example maps the very ids the shipped deployment plan puts on chain.
    deploy = tomllib.loads((REPO / "docs" / "deploy" / "deploy.example.toml").read_text("utf-8"))
    oracle = tomllib.loads((REPO / "docs" / "deploy" / "oracle.toml").read_text("utf-8"))
    targets = {p["target"].lower() for p in deploy["policies"] if str(p["target"]).startswith("0x")}
    assert oracle["groups"] and set(oracle["groups"]) <= targets


def test_test_world__group_target_is_keyed() -> None:
    from support.world import ADMINS, ADMINS_DN, PSEUDONYM_KEY

    assert ADMINS == group_target_id(PSEUDONYM_KEY, ADMINS_DN) != keccak(text=ADMINS_DN)
