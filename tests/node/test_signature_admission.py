"""Admission recovers a transaction's sender once: tampered signatures must still be refused, good ones kept."""

from __future__ import annotations

import rlp
from eth_account.signers.local import LocalAccount
from pamchain.node.service import NodeHandle
from web3 import Web3

from .conftest import CHAIN_ID, signed_transfer

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _with_signature(raw: bytes, y_parity: int, r: int, s: int) -> bytes:
    fields = rlp.decode(raw[1:])
    fields[-3:] = [rlp.sedes.big_endian_int.serialize(v) for v in (y_parity, r, s)]
    return raw[:1] + rlp.encode(fields)


def _send(w3: Web3, raw: bytes) -> dict:
    return dict(w3.provider.make_request("eth_sendRawTransaction", ["0x" + raw.hex()]))  # type: ignore[arg-type]


def test_typed_signature__valid__accepted_with_the_signer_as_sender(
    node: NodeHandle, w3: Web3, users: list[LocalAccount]
) -> None:
    reply = _send(w3, signed_transfer(users[0]))
    assert "error" not in reply, reply
    assert w3.eth.get_transaction(reply["result"])["from"] == users[0].address


def test_typed_signature__tampered_s__rejected_or_other_sender(
    node: NodeHandle, w3: Web3, users: list[LocalAccount]
) -> None:
    raw = signed_transfer(users[0])
    fields = rlp.decode(raw[1:])
    y, r, s = (rlp.sedes.big_endian_int.deserialize(v) for v in fields[-3:])
    reply = _send(w3, _with_signature(raw, y, r, s ^ 1))
    # A changed signature either fails recovery or recovers a stranger (unfunded here): never alice.
    assert "error" in reply, reply


def test_typed_signature__zero_r__rejected(node: NodeHandle, w3: Web3, users: list[LocalAccount]) -> None:
    raw = signed_transfer(users[0])
    reply = _send(w3, _with_signature(raw, 0, 0, 1))
    assert reply["error"]["message"].startswith("invalid transaction")


def test_typed_signature__high_s__rejected(node: NodeHandle, w3: Web3, users: list[LocalAccount]) -> None:
    raw = signed_transfer(users[0])
    fields = rlp.decode(raw[1:])
    y, r, s = (rlp.sedes.big_endian_int.deserialize(v) for v in fields[-3:])
    reply = _send(w3, _with_signature(raw, 1 - y, r, SECP256K1_N - s))  # the malleable twin (EIP-2)
    assert "error" in reply, reply


def test_legacy_signature__valid__accepted(node: NodeHandle, w3: Web3, users: list[LocalAccount]) -> None:
    tx = {
        "to": "0x" + "22" * 20,
        "value": 1,
        "gas": 21_000,
        "gasPrice": 10**10,
        "nonce": 0,
        "chainId": CHAIN_ID,
    }
    reply = _send(w3, bytes(users[1].sign_transaction(tx).raw_transaction))
    assert "error" not in reply, reply
