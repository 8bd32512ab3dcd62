"""One verdict on password strength, in Chromium: the phone's password screen scores every shared vector
(tests/vectors/password-strength.json) as the oracle's Python zxcvbn does for the phone's account, refuses a
guessable password with the reason in English and French, and a password at the threshold goes through to AD."""

from __future__ import annotations

import json
from pathlib import Path

from pamchain.sdk.directory.password_policy import MIN_SCORE, strength

from .conftest import Stack, enrolled_phone, wait_for
from .test_phone import _sent_request_id

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "password-strength.json"
ACCOUNT = "pia"
# The account name as a user input, as zxcvbn sees it on both sides (reversed, l33t).
OWN = ["Aip#2024Aip!x", "P1a-Lantern!7", "Pia2024!Pia2024"]


def _phone_score(page, password: str) -> int:
    page.get_by_label("New password", exact=True).fill(password)
    page.wait_for_function("() => document.querySelector('#rule-strength').dataset.score !== undefined")
    rule = page.locator("#rule-strength")
    score = int(str(rule.get_attribute("data-score")))
    assert rule.get_attribute("data-ok") == str(score >= MIN_SCORE).lower()
    return score


def test_strength__phone_scores_every_vector_as_the_oracle(phone, approver, stack: Stack) -> None:
    passwords = [c["password"] for c in json.loads(VECTORS.read_text("utf-8"))["cases"]] + OWN
    p = enrolled_phone(phone, stack, ACCOUNT)
    page = p.page
    page.get_by_role("link", name="Password").click()
    on_phone = {pw: _phone_score(page, pw) for pw in passwords}
    assert on_phone == {pw: strength(pw, ACCOUNT) for pw in passwords}
    assert {s >= MIN_SCORE for s in on_phone.values()} == {True, False}

    # Follows every other rule, is not on the breached list, but is guessable: refused, with the reason.
    page.get_by_label("New password", exact=True).fill("Football#2020")
    page.get_by_label("New password again").fill("Football#2020")
    page.get_by_role("button", name="Send the change").click()
    status = page.locator("#password-status")
    wait_for(lambda: "Too easy to guess" in status.inner_text(), what="guessable refusal")
    assert status.inner_text() == (
        "Too easy to guess (strength 2 of 4, needs 3): use a longer phrase of unrelated words."
    )
    page.locator("#lang").select_option("fr")
    page.get_by_label("Nouveau mot de passe", exact=True).fill("Football#2020")
    page.get_by_label("Nouveau mot de passe (confirmation)").fill("Football#2020")
    page.get_by_role("button", name="Envoyer le changement").click()
    wait_for(lambda: "Trop facile" in status.inner_text(), what="refusal in French")
    assert "force 2 sur 4, il faut 3" in status.inner_text()
    page.locator("#lang").select_option("en")

    # Exactly at the threshold (10^8 guesses): the phone sends it and the oracle's policy takes it.
    page.get_by_label("New password", exact=True).fill("Dragon2024!!")
    page.get_by_label("New password again").fill("Dragon2024!!")
    page.get_by_role("button", name="Send the change").click()
    rid = _sent_request_id(page, "password-status")
    approver.page.get_by_role("link", name="Approvals").click()
    approver.page.get_by_role("button", name=f"Approve request {rid}").click()
    page.get_by_role("link", name="Unlock").click()
    wait_for(
        lambda: "Password changed on DC1" in page.locator(f"#request-{rid}").inner_text(),
        what="reset receipt",
    )
    stack.directory.authenticate(stack.users[ACCOUNT].ref, "Dragon2024!!")
