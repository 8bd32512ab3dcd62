"""The screens of issue 17 items 5 and 6 in Chromium: refusals in the user's terms (EN/FR) from real reverts,
break-glass with its warning and alarm, denial with a reason, the alarms screen, the lost-device code, and the
terms and privacy page."""

from __future__ import annotations

import json
import re
from typing import Any

from eth_utils import keccak
from pamchain.sdk.chain.lost_device import principal_of_code
from pamchain.sdk.chain.model import PrincipalStatus, Status

from .conftest import Stack, create_key, directory_id, enrolled_phone, wait_for


def _settled(page: Any, status_id: str) -> str:
    status = page.locator(f"#{status_id}")
    words = ("Sent: request", "Refused", "Envoyé", "Refusé", "Done", "Fait")
    wait_for(lambda: any(w in status.inner_text() for w in words), what=f"{status_id} settled")
    return str(status.inner_text())


def _ask(page: Any, minutes: str, *, break_glass: bool = False) -> None:
    page.get_by_label("Group").select_option(label="Domain Admins")
    page.locator("#duration").fill(minutes)
    page.locator("#unit").select_option("60")
    if break_glass:
        page.locator("#break-glass").check()
    page.locator("#elevate-form button[type=submit]").click()


def test_refusal__real_revert__said_in_english_then_french(phone: Any, stack: Stack) -> None:
    # quinn is enrolled but on no requester list: the chain refuses with `requests: not eligible`.
    p = phone()
    stack.enrol("quinn", create_key(p))
    page = p.page
    page.get_by_role("heading", name="Unlock my account").wait_for()
    before = stack.client.request_count()
    page.get_by_role("navigation").get_by_role("link", name="Elevation").click()
    _ask(page, "10")
    text = _settled(page, "elevate-status")
    assert text == "Refused: you are not on the list of people who may ask for Domain Admins", text
    assert page.locator("#elevate-status[role=alert]").count() == 1

    page.get_by_label("Language").select_option("fr")
    page.get_by_role("navigation").get_by_role("link", name="Élévation").click()
    _ask(page, "10")
    status = page.locator("#elevate-status")
    wait_for(lambda: "Refusé" in status.inner_text(), what="fr refusal")
    assert status.inner_text() == (
        "Refusé : vous ne figurez pas parmi les personnes autorisées à demander Domain Admins"
    )
    # Before sending, the form says the cap in the same words the chain's refusal would.
    page.locator("#duration").fill("3")
    page.locator("#unit").select_option("3600")
    page.locator("#elevate-form button[type=submit]").click()
    assert page.locator("#duration-hint").inner_text() == (
        "Trop long : la politique pour Domain Admins permet au plus 1 h."
    )
    assert stack.client.request_count() == before


def test_break_glass__warning__alarm_raised__seen_by_approver__denied_with_a_reason(
    phone: Any, approver: Any, stack: Stack
) -> None:
    p = enrolled_phone(phone, stack, "sara")
    page = p.page
    # Not an approver nor marked security: no Alarms screen for sara.
    assert page.get_by_role("navigation").get_by_role("link", name="Alarms").count() == 0
    page.get_by_role("navigation").get_by_role("link", name="Elevation").click()
    warning = page.locator("#break-glass-warning")
    assert warning.is_hidden()
    page.locator("#break-glass").check()
    assert warning.is_visible() and warning.get_attribute("role") == "alert"
    assert "an alarm goes to the security officers" in warning.inner_text()
    assert "The policy for Domain Admins: 1 approval(s), at most 1 h." in warning.inner_text()
    page.locator("#break-glass").uncheck()
    assert warning.is_hidden()

    _ask(page, "5", break_glass=True)
    text = _settled(page, "elevate-status")
    assert text.startswith("Sent: request"), text
    rid = int(text.rsplit(" ", 1)[1].rstrip("."))
    raised = page.locator("#alarm-raised")
    wait_for(lambda: raised.is_visible(), what="alarm shown")
    assert raised.inner_text() == f"Alarm raised: the security officers have been alerted (request {rid})."
    request = stack.client.request(rid)
    assert request.break_glass and request.subject == directory_id("sara")
    page.get_by_role("navigation").get_by_role("link", name="Unlock").click()
    page.locator(f"#request-{rid} .alarm-tag").wait_for()
    p.shot("16-break-glass-alarm")

    # The approver reads the alarm on the Alarms screen.
    bob = approver.page
    bob.get_by_role("navigation").get_by_role("link", name="Alarms").click()
    bob.get_by_role("heading", name="Alarms").wait_for()
    item = bob.locator("#alarm-list li.alarm-1", has_text=f"Request {rid} · Domain Admins")
    item.wait_for()
    assert "Break-glass request" in item.inner_text() and "Sara" in item.inner_text()
    wait_for(lambda: re.search(r"When\s+\d\d:\d\d:\d\d", item.inner_text()), what="alarm time")
    approver.shot("17-alarms")

    # Denial with a reason: required, salted on chain, kept on bob's phone; sara sees who denied.
    bob.get_by_role("navigation").get_by_role("link", name="Approvals").click()
    bob.get_by_role("button", name=f"Deny request {rid}").click()
    form = bob.locator("#deny-form")
    assert form.is_visible() and bob.locator("#deny-title").inner_text() == f"Deny request {rid}"
    assert bob.evaluate("document.activeElement.id") == "deny-reason"
    bob.get_by_role("button", name="Deny the request").click()
    assert bob.locator("#deny-status").inner_text() == "Give a reason for the denial."
    assert stack.client.request(rid).status is Status.PENDING
    reason = "Not an outage: use a normal request"
    bob.get_by_label("Reason for the denial").fill(reason)
    approver.shot("18-deny-reason")
    bob.get_by_role("button", name="Deny the request").click()
    wait_for(lambda: "Done" in bob.locator("#deny-status").inner_text(), what="denied")
    assert stack.client.request(rid).status is Status.DENIED
    denied = stack.client.events(from_block=stack.deployment.block, names=["RequestDenied"])
    event = next(e for e in denied if int(e.args["request_id"]) == rid)  # type: ignore[attr-defined]
    reason_hash = bytes(event.args["reason_hash"])  # type: ignore[attr-defined]
    assert reason_hash not in (b"\x00" * 32, keccak(text=reason))  # salted: the text cannot be tested
    kept = json.loads(bob.evaluate("() => localStorage.getItem('pamchain:denials')"))
    assert kept["0x" + reason_hash.hex()] == reason  # the text stays on bob's phone, under its on-chain hash
    assert bytes(event.args["approver"]) == directory_id("bob")  # type: ignore[attr-defined]
    assert reason not in str(stack.client.w3.eth.get_block("latest", full_transactions=True))

    page.get_by_role("navigation").get_by_role("link", name="History").click()
    denial = page.locator(f"#request-{rid} .denial")
    denial.wait_for()
    assert (
        denial.inner_text()
        == "Denied by Bob (0x"
        + directory_id("bob").hex()[:4]
        + "…"
        + (directory_id("bob").hex()[-4:])
        + "). A reason was given; it is kept off chain: ask them."
    )
    page.get_by_label("Language").select_option("fr")
    wait_for(lambda: "Refusée par Bob" in page.locator(f"#request-{rid} .denial").inner_text(), what="fr")
    assert "Bris de glace · alarme déclenchée" in page.locator(f"#request-{rid}").inner_text()


def test_lost_device__code_on_the_phone__council_suspends__phone_shows_it(phone: Any, stack: Stack) -> None:
    p = enrolled_phone(phone, stack, "rita")
    page = p.page
    page.get_by_role("navigation").get_by_role("link", name="Device").click()
    page.get_by_role("heading", name="If I lose this phone").wait_for()
    assert "Only the council can suspend an account" in page.locator("#main").inner_text()
    page.get_by_role("button", name="Show my lost-device code").click()
    code_box = page.get_by_label("Lost-device code", exact=True)
    wait_for(lambda: code_box.input_value() != "", what="code shown")
    code = code_box.input_value()
    assert page.locator("#lost-qr svg[role=img]").count() == 1
    assert "pamchain principal lost-device CODE" in page.locator("#lost-hint").inner_text()
    p.shot("19-lost-device-code")

    # What `pamchain principal lost-device CODE` does, as a council member.
    council = stack.client.as_account(stack.accounts["c1"])
    found = principal_of_code(council, code)
    assert found.directory_id == directory_id("rita") and found.device == stack.enrolled["rita"]
    council.suspend(found.directory_id)
    assert stack.client.principal(directory_id("rita")).status is PrincipalStatus.SUSPENDED
    wait_for(lambda: "suspended" in page.locator("#enrol-state").inner_text(), what="suspension shown")

    page.get_by_label("Language").select_option("fr")
    page.get_by_role("heading", name="Si je perds ce téléphone").wait_for()


def test_terms_and_privacy__reachable_before_a_key_and_in_the_app__en_and_fr(
    phone: Any, stack: Stack
) -> None:
    p = phone()
    page = p.page
    page.get_by_role("heading", name="Create this phone's key").wait_for()
    page.get_by_role("link", name="Terms and privacy").click()
    page.get_by_role("heading", name="Terms and privacy", level=2).wait_for()
    text = page.locator("#main").inner_text()
    assert "What the chain keeps (forever)" in text and "No name, account name, e-mail" in text
    assert "Erasure" in text
    p.shot("20-privacy")
    page.get_by_role("link", name="Back to the app").click()
    page.get_by_role("heading", name="Create this phone's key").wait_for()

    fr = phone(locale="fr-FR")
    fr.page.get_by_role("link", name="Conditions et confidentialité").click()
    fr.page.get_by_role("heading", name="Conditions et confidentialité", level=2).wait_for()
    assert "Ce que garde la chaîne" in fr.page.locator("#main").inner_text()
