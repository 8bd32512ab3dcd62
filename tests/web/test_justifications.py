"""Approvers read justifications on their phone (issue 16 item 3): sealed on one person's phone, opened in
clear on an eligible approver's phone and by a CLI approver; sealed by the CLI, opened on the phone; a phone
the text was not sealed to, or a tampered envelope, shows "cannot be read", never the bytes."""

from __future__ import annotations

import pytest
import requests
from eth_utils import keccak
from pamchain.sdk.chain.model import ticket_ref
from pamchain.sdk.payloads.sealed_justifications import read_justification, seal_for_request
from pamchain.sdk.payloads.store import PayloadClient, PayloadStoreError

from .conftest import SERVERS, Phone, Stack, enrolled_phone, wait_for
from .test_phone import _sent_request_id

PHONE_TEXT = "Rotate the krbtgt key after the audit — été 2026"
CLI_TEXT = "Restore the file server from last night's backup"


def _why(approver: Phone, rid: int) -> tuple[str, str]:
    """(state, text) of a pending request's justification on an approver's phone, once it settled."""
    page = approver.page
    page.get_by_role("link", name="Approvals").click()
    cell = page.locator(f"#pending-{rid} dd.justification")
    wait_for(lambda: cell.get_attribute("data-state") not in (None, "opening"), what=f"justification {rid}")
    return str(cell.get_attribute("data-state")), str(cell.inner_text())


def _store(stack: Stack) -> PayloadClient:
    return PayloadClient(stack.payload_url)


def _publish(store: PayloadClient, account) -> None:
    """`pamchain keys publish`, once the store has seen the new enrolment (it rereads the chain's signers at
    most every few seconds, so a device enrolled a moment ago is refused at first, as the phone's would be)."""

    def published() -> bool:
        try:
            store.publish_key(account)
        except PayloadStoreError as exc:
            assert exc.status == 403, exc
            return False
        return True

    wait_for(published, what="key published")


def test_justification__sealed_on_a_phone__read_in_clear_by_approvers_phone_and_cli(
    phone, approver, stack: Stack
) -> None:
    store = _store(stack)
    wait_for(
        lambda: store.device_key(stack.enrolled["bob"]) is not None, what="bob's phone published its key"
    )
    mona = stack.sdk_device("mona")  # an approver on the command line
    assert mona.account is not None
    _publish(store, mona.account)

    kim = enrolled_phone(phone, stack, "kim")
    page = kim.page
    page.get_by_role("link", name="Elevation").click()
    page.get_by_label("Group").select_option(label="Server Admins")
    page.get_by_label("Duration", exact=True).fill("5")
    page.get_by_label("Justification").fill(PHONE_TEXT)
    page.get_by_label("Ticket reference").fill("INC-2041")
    page.get_by_role("button", name="Ask").click()
    rid = _sent_request_id(page, "elevate-status")
    request = stack.client.request(rid)
    assert request.target == SERVERS and request.ticket_ref == ticket_ref("INC-2041")
    assert request.justification_hash not in (keccak(text=PHONE_TEXT), b"\x00" * 32)
    # On chain only the salted hash; in the store only the envelope (no text in clear).
    envelope = (stack.tmp / "payloads" / "justifications" / request.justification_hash.hex()).read_bytes()
    assert PHONE_TEXT.encode() not in envelope

    state, text = _why(approver, rid)
    assert state == "clear" and text == PHONE_TEXT
    assert "INC-2041" in approver.page.locator(f"#pending-{rid}").inner_text()
    approver.shot("14-justification-clear")
    # The command-line approver opens the same envelope with the SDK.
    assert read_justification(mona.account, store, request).text == PHONE_TEXT

    # nora is an approver too, but her phone had no key when kim sealed: it says so, and shows no bytes.
    nora = enrolled_phone(phone, stack, "nora")
    state, text = _why(nora, rid)
    assert state == "unreadable"
    assert text == "Cannot be read on this phone: it was not encrypted for this device."
    nora.shot("15-justification-unreadable")


def test_justification__sealed_by_the_cli__read_on_the_phone__tampered_one_refused(
    phone, approver, stack: Stack
) -> None:
    store = _store(stack)
    wait_for(
        lambda: store.device_key(stack.enrolled["bob"]) is not None, what="bob's phone published its key"
    )
    liam = stack.sdk_device("liam")
    assert liam.account is not None
    _publish(store, liam.account)
    digest, who = seal_for_request(liam, store, SERVERS, CLI_TEXT)
    assert len(who.keys) >= 2  # liam's own and bob's phone's at least
    rid = liam.request_elevation(SERVERS, 5, ticket=ticket_ref("CHG-77"), justification_hash=digest)
    state, text = _why(approver, rid)
    assert state == "clear" and text == CLI_TEXT

    digest, _ = seal_for_request(liam, store, SERVERS, "a second reason")
    path = stack.tmp / "payloads" / "justifications" / digest.hex()
    tampered = bytearray(path.read_bytes())
    tampered[-5] ^= 0x40
    path.write_bytes(bytes(tampered))
    rid = liam.request_elevation(SERVERS, 5, justification_hash=digest)
    state, text = _why(approver, rid)
    assert state == "unreadable" and text == "Cannot be read on this phone: it was altered or damaged."
    assert "second reason" not in approver.page.locator(f"#pending-{rid}").inner_text()


def test_relay__a_device_that_is_not_an_approver_cannot_fetch_a_justification(stack: Stack) -> None:
    liam = stack.sdk_device("liam")
    oscar = stack.sdk_device("oscar")  # enrolled, neither requester nor approver of this request
    assert liam.account is not None and oscar.account is not None
    relay = PayloadClient(stack.web.url + "payloads")
    for device in (liam.account, oscar.account):
        _publish(relay, device)  # through the relay, as the phone does
    digest, _ = seal_for_request(liam, relay, SERVERS, "only for the approvers")
    rid = liam.request_elevation(SERVERS, 5, justification_hash=digest)
    assert read_justification(liam.account, relay, liam.request(rid)).text == "only for the approvers"
    with pytest.raises(PayloadStoreError) as refused:
        relay.get_justification(oscar.account, digest)
    assert refused.value.status == 403 and "neither the requester nor an approver" in str(refused.value)
    # The relay checks what it forwards: a malformed hash or device never reaches the store, and a key is
    # published only as JSON (a cross-site "simple" text/plain PUT is refused before any handler).
    with pytest.raises(PayloadStoreError) as bad:
        relay.device_key("not-an-address")
    assert bad.value.status == 400
    with pytest.raises(PayloadStoreError) as bad:
        relay.get_justification(liam.account, b"\x00" * 31)
    assert bad.value.status == 400
    plain = requests.put(
        f"{stack.web.url}payloads/v1/keys/{oscar.account.address}",
        data=b"{}",
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert plain.status_code == 415
