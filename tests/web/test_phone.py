"""The phone app in Debian's Chromium at 360x740 against a real node, oracle, directory and payload store."""

from __future__ import annotations

import contextlib

from eth_typing import HexStr
from eth_utils import keccak
from pamchain.sdk.chain.events import RequestCreated
from pamchain.sdk.chain.model import Status
from pamchain.sdk.directory import AuthenticationFailed, GroupRef
from web3 import Web3

from .conftest import FIRST_PASSWORD, GROUP_DN, Stack, create_key, directory_id, enrolled_phone, wait_for


def test_enrol__key_created_in_browser__council_enrols__ui_shows_enrolled(phone, stack: Stack) -> None:
    p = phone()
    page = p.page
    page.get_by_role("heading", name="Create this phone's key").wait_for()
    p.shot("01-create-key")
    address = create_key(p)
    assert address.startswith("0x") and len(address) == 42
    assert page.locator("#qr svg[role=img]").count() == 1
    assert "Not enrolled yet" in page.locator("#enrol-state").inner_text()
    stored = page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('pamchain:keystore'))")
    assert len(stored) == 1
    keystore = page.evaluate(f"() => JSON.parse(localStorage.getItem({stored[0]!r}))")
    assert (keystore.get("crypto") or keystore["Crypto"])["kdf"] == "scrypt" and address.lower().endswith(
        keystore["address"].lower()
    )
    p.shot("02-enrol-qr")

    stack.enrol("alice", address)
    assert stack.client.principal_of(address) == directory_id("alice")
    page.get_by_role("heading", name="Unlock my account").wait_for()
    page.get_by_role("navigation").get_by_role("link", name="Device").click()
    wait_for(lambda: "Enrolled" in page.locator("#enrol-state").inner_text(), what="enrolled shown")
    assert "Alice" in page.locator("#enrol-state").inner_text()


UNLABELLED = """() => [...document.querySelectorAll('input:not([hidden]), select, textarea, button')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
  .map(el => el.outerHTML)"""


def assert_labelled(page) -> None:
    """Every control a screen reader meets has a name (a label, aria-label or text)."""
    assert page.evaluate(UNLABELLED) == []


def _sent_request_id(page, status_id: str) -> int:
    status = page.locator(f"#{status_id}")
    wait_for(lambda: "Sent: request" in status.inner_text() or "Refused" in status.inner_text(), what="sent")
    text = status.inner_text()
    assert "Sent: request" in text, text
    return int(text.rsplit(" ", 1)[1].rstrip("."))


def test_unlock__one_tap__directory_unlocked_and_receipt_shown(phone, stack: Stack) -> None:
    dave = stack.users["dave"].ref
    for _ in range(3):
        with contextlib.suppress(AuthenticationFailed):
            stack.directory.authenticate(dave, "wrong-password")
    assert stack.directory.is_locked(dave)

    p = enrolled_phone(phone, stack, "dave")
    page = p.page
    page.get_by_role("button", name="Unlock my account").click()
    rid = _sent_request_id(page, "home-status")
    receipt = page.locator(f"#request-{rid} .receipt")
    receipt.wait_for()
    assert receipt.inner_text().startswith("Unlocked on DC1 at ")
    assert not stack.directory.is_locked(dave)
    stack.directory.authenticate(dave, FIRST_PASSWORD)
    assert "Done" in page.locator(f"#request-{rid} .status").inner_text()
    # the receipt was announced to screen readers, not only drawn
    wait_for(lambda: "Unlocked on DC1" in page.locator("#live").inner_text(), what="announced")
    p.shot("03-unlock-receipt")


def test_fresh_phone__enrolled_never_funded__unlocks_at_once(phone, stack: Stack) -> None:
    """No funding dance: the chain is free-gas (base fee 0, zero-price transactions from enrolled devices), so
    the council's enrolment is the only step between a new key and its first request."""
    una = stack.users["una"].ref
    for _ in range(3):
        with contextlib.suppress(AuthenticationFailed):
            stack.directory.authenticate(una, "wrong-password")
    assert stack.directory.is_locked(una)
    assert stack.client.w3.eth.gas_price == 0

    p = phone()
    page = p.page
    address = Web3.to_checksum_address(create_key(p))
    assert stack.client.w3.eth.get_balance(address) == 0
    stack.enrol("una", address)
    page.get_by_role("heading", name="Unlock my account").wait_for()
    page.get_by_role("navigation").get_by_role("link", name="Device").click()
    wait_for(lambda: "Enrolled" in page.locator("#enrol-state").inner_text(), what="enrolled shown")
    assert page.locator("#funds").inner_text() == ""  # no "ask the council to fund it"
    page.get_by_role("navigation").get_by_role("link", name="Unlock").click()
    page.get_by_role("button", name="Unlock my account").click()
    rid = _sent_request_id(page, "home-status")
    page.locator(f"#request-{rid} .receipt").wait_for()
    assert not stack.directory.is_locked(una)
    created = next(
        e for e in stack.client.events(0, "latest") if isinstance(e, RequestCreated) and e.request_id == rid
    )
    tx = stack.client.w3.eth.get_transaction_receipt(HexStr(created.at.tx_hash))
    assert tx["from"].lower() == address.lower() and tx["effectiveGasPrice"] == 0
    assert stack.client.w3.eth.get_balance(address) == 0


def test_elevation__approved_in_a_second_browser__active_then_expires(phone, approver, stack: Stack) -> None:
    p = enrolled_phone(phone, stack, "erin")
    page = p.page
    page.get_by_role("link", name="Elevation").click()
    page.get_by_label("Group").select_option(label="Domain Admins")
    assert "At most 1 h 00 min" in page.locator("#duration-hint").inner_text()
    page.get_by_label("Duration", exact=True).fill("2")
    page.get_by_label("Unit").select_option(label="hours")
    page.get_by_role("button", name="Ask").click()
    assert (
        page.locator("#duration-hint").inner_text()
        == "Too long: the policy for Domain Admins allows at most 1 h."
    )
    page.get_by_label("Duration", exact=True).fill("6")
    page.get_by_label("Unit").select_option(label="seconds")
    page.get_by_label("Justification").fill("patch the domain controllers")
    page.get_by_label("Ticket reference").fill("CHG-1042")
    assert_labelled(page)
    p.shot("04-elevation-form")
    page.get_by_role("button", name="Ask").click()
    rid = _sent_request_id(page, "elevate-status")
    request = stack.client.request(rid)
    # salted: not the plain keccak anyone could compute from a guess
    assert request.justification_hash not in (keccak(text="patch the domain controllers"), b"\x00" * 32)
    assert request.ticket_ref == b"CHG-1042".ljust(32, b"\x00") and request.duration == 6

    bob = approver.page
    bob.get_by_role("link", name="Approvals").click()
    item = bob.locator(f"#pending-{rid}")
    item.wait_for()
    item.locator("dd.justification[data-state=clear]").wait_for()  # decrypted on bob's phone
    text = item.inner_text()
    assert "patch the domain controllers" in text
    assert "Erin" in text and "Domain Admins" in text and "CHG-1042" in text and "6 s" in text
    approver.shot("05-approvals")
    bob.get_by_role("button", name=f"Approve request {rid}").click()
    item.wait_for(state="detached")

    page.get_by_role("link", name="Unlock").click()
    mine = page.locator(f"#request-{rid}")
    wait_for(
        lambda: "Active" in mine.inner_text() and "Added to the group on DC1" in mine.inner_text(),
        what="active",
    )
    assert "ends in" in mine.inner_text()
    assert stack.directory.is_member(GroupRef(GROUP_DN), stack.users["erin"].ref)
    p.shot("06-grant-active")
    wait_for(lambda: "Ended" in mine.inner_text(), timeout=15, what="expiry in the UI")
    wait_for(lambda: "Removed from the group on DC1" in mine.inner_text(), timeout=15, what="removal receipt")
    assert not stack.directory.is_member(GroupRef(GROUP_DN), stack.users["erin"].ref)
    page.get_by_role("link", name="History").click()
    page.locator(f"#history-list #request-{rid}").wait_for()
    p.shot("08-history")


def test_denied__approver_denies__requester_sees_denied(phone, approver, stack: Stack) -> None:
    p = enrolled_phone(phone, stack, "frank")
    page = p.page
    page.get_by_role("link", name="Elevation").click()
    page.get_by_label("Duration", exact=True).fill("10")
    page.get_by_label("Justification").fill("just curious")
    page.get_by_role("button", name="Ask").click()
    rid = _sent_request_id(page, "elevate-status")

    bob = approver.page
    bob.get_by_role("link", name="Approvals").click()
    bob.get_by_role("button", name=f"Deny request {rid}").click()
    bob.get_by_label("Reason for the denial").fill("no change ticket")  # a denial says why
    bob.get_by_role("button", name="Deny the request").click()
    bob.locator(f"#pending-{rid}").wait_for(state="detached")

    page.get_by_role("link", name="Unlock").click()
    wait_for(lambda: "Denied" in page.locator("#live").inner_text(), what="denial announced")
    page.get_by_role("link", name="History").click()
    assert "Denied by Bob" in page.locator(f"#history-list #request-{rid}").inner_text()
    assert stack.client.status(rid) is Status.DENIED


def test_password__checked_sealed_in_browser__directory_takes_new_password(
    phone, approver, stack: Stack
) -> None:
    p = enrolled_phone(phone, stack, "gina")
    page = p.page
    page.get_by_role("link", name="Password").click()
    page.get_by_label("New password", exact=True).fill("gina-is-Great-2024")
    assert page.locator("#rule-name").get_attribute("data-ok") == "false"
    page.get_by_label("New password again").fill("gina-is-Great-2024")
    page.get_by_role("button", name="Send the change").click()
    assert "does not follow the rules" in page.locator("#password-status").inner_text()
    page.get_by_label("New password", exact=True).fill("Password123!")
    page.get_by_label("New password again").fill("Password123!")
    page.get_by_role("button", name="Send the change").click()
    wait_for(lambda: "breached" in page.locator("#password-status").inner_text(), what="breached refusal")
    new_password = "Quiet-Orange-Lantern-27"
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password again").fill(new_password)
    assert_labelled(page)
    p.shot("07-password")
    page.get_by_role("button", name="Send the change").click()
    rid = _sent_request_id(page, "password-status")
    payload_hash = stack.client.request(rid).payload_hash
    assert (stack.tmp / "payloads" / payload_hash.hex()).exists()  # stored sealed, by hash

    bob = approver.page
    bob.get_by_role("link", name="Approvals").click()
    assert "Password change" in bob.locator(f"#pending-{rid}").inner_text()
    bob.get_by_role("button", name=f"Approve request {rid}").click()

    page.get_by_role("link", name="Unlock").click()
    wait_for(
        lambda: "Password changed on DC1" in page.locator(f"#request-{rid}").inner_text(),
        what="reset receipt",
    )
    stack.directory.authenticate(stack.users["gina"].ref, new_password)
    wait_for(lambda: not (stack.tmp / "payloads" / payload_hash.hex()).exists(), what="payload purged")


def test_wrong_passphrase__clear_error__right_one_opens(phone, stack: Stack) -> None:
    p = phone()
    address = create_key(p, "a good passphrase")
    page = p.page
    page.reload()
    page.get_by_role("heading", name="Unlock this phone's key").wait_for()
    page.get_by_label("Passphrase").fill("not the passphrase")
    page.get_by_label("Passphrase").press("Enter")  # keyboard only
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Wrong passphrase" in alert.inner_text()
    assert page.get_by_label("Passphrase").get_attribute("aria-invalid") == "true"
    p.shot("09-wrong-passphrase")
    page.get_by_label("Passphrase").fill("a good passphrase")
    page.get_by_role("button", name="Unlock", exact=True).click()
    page.locator("#device-address").wait_for()
    assert page.locator("#device-address").inner_text() == address


def test_french__from_browser_language__switchable(phone, stack: Stack) -> None:
    p = phone(locale="fr-FR")
    page = p.page
    page.get_by_role("heading", name="Créer la clé de ce téléphone").wait_for()
    assert page.evaluate("document.documentElement.lang") == "fr"
    p.shot("10-french")
    page.get_by_label("Langue").select_option("en")
    page.get_by_role("heading", name="Create this phone's key").wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"


def test_offline__node_goes_away_and_comes_back__ui_recovers(phone, stack: Stack) -> None:
    p = enrolled_phone(phone, stack, "hank")
    page = p.page
    banner = page.locator("#offline")
    assert banner.is_hidden()
    stack.stop_node()
    try:
        wait_for(lambda: banner.is_visible(), timeout=10, what="offline banner")
        assert "Offline" in banner.inner_text()
        p.shot("11-offline")
    finally:
        stack.start_node()
    wait_for(lambda: banner.is_hidden(), timeout=15, what="back online")
    wait_for(lambda: "Back online" in page.locator("#live").inner_text(), what="announced")
    page.get_by_role("button", name="Unlock my account").click()
    rid = _sent_request_id(page, "home-status")
    page.locator(f"#request-{rid} .receipt").wait_for()
