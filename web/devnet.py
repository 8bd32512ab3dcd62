"""The phone app on `pamchain devnet`: served beside the node, with a demo button that makes a phone alice's device.

On a real deployment the council enrols a phone with a governed `enrol` (or `rotate_device`); on the devnet
the demo council keys do it at the press of a button, so anyone can try the app in a minute.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from eth_account.signers.local import LocalAccount

from .server import WebHandle, start_web

DEMO_USER = "alice"
DEMO_PORT = 8600


def demo_enroller(
    client: Any, council: tuple[LocalAccount, LocalAccount], directory_id: bytes
) -> Callable[[str], None]:
    """Make ``address`` the device of ``directory_id`` (2-of-2 demo council keys). No funding: the devnet is a
    free-gas chain, so an enrolled device transacts at once."""
    first, second = (client.as_account(member) for member in council)

    def enrol(address: str) -> None:
        if client.principal_of(address) == directory_id:
            return
        data = client.contract.functions.rotate_device(directory_id, address)._encode_transaction_data()
        result = first.transact("propose", bytes.fromhex(data[2:]))
        created = next(e for e in result.events if getattr(e, "event", "") == "ProposalCreated")
        second.approve_proposal(int(created.args["proposal_id"]))

    return enrol


@contextlib.contextmanager
def devnet_web(
    *,
    rpc_url: str,
    deployment: Any,
    payload_store_url: str,
    client: Any,
    council: tuple[LocalAccount, LocalAccount],
    ids: Mapping[str, bytes],
    group_dn: str,
    group_id: bytes,
    echo: Callable[[str], None],
    port: int = DEMO_PORT,
) -> Iterator[WebHandle]:
    """Start the phone app for a devnet (port 8600, or any free port if taken); stopped on exit."""
    people = {"0x" + i.hex(): {"label": n.capitalize(), "account": n} for n, i in ids.items()}
    options: dict[str, Any] = {
        "rpc_url": rpc_url,
        "deployment": deployment,
        "payload_store_url": payload_store_url,
        "people": people,
        "groups": {"0x" + group_id.hex(): group_dn},
        "kdf_log_n": 14,  # demo keys: quick to open on any phone
        "demo_label": DEMO_USER.capitalize(),
        "demo_enrol": demo_enroller(client, council, ids[DEMO_USER]),
    }
    try:
        handle = start_web(port=port, **options)
    except OSError:
        handle = start_web(port=0, **options)
    # localhost, not 127.0.0.1: passkeys need a domain name, and the devnet's PamFactors is for "localhost".
    echo(
        f"  phone app: {handle.url.replace('127.0.0.1', 'localhost')} — create a key, then press 'Enrol as {DEMO_USER.capitalize()}' "
        f"(demo: the council's demo keys make that phone {DEMO_USER}'s device; her CLI keystore stops working)"
    )
    try:
        yield handle
    finally:
        handle.stop()
