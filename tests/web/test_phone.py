"""The phone app in Debian's Chromium at 360x740 against a real node, oracle, directory and payload store."""

from __future__ import annotations

from .conftest import Stack, create_key, directory_id, enrolled_phone, wait_for


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
    assert (keystore.get("crypto") or keystore["Crypto"])["kdf"] == "scrypt" and address.lower().endswith(keystore["address"].lower())
    p.shot("02-enrol-qr")

    stack.enrol("alice", address)
    assert stack.client.principal_of(address) == directory_id("alice")
    page.get_by_role("heading", name="Unlock my account").wait_for()
    page.get_by_role("navigation").get_by_role("link", name="Device").click()
    wait_for(lambda: "Enrolled" in page.locator("#enrol-state").inner_text(), what="enrolled shown")
    assert "Alice" in page.locator("#enrol-state").inner_text()
