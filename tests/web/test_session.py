"""Sessions on the phone: the decrypted key is forgotten after an idle time or sooner in the background, and
sensitive actions ask for the passphrase again; time is moved with Playwright's page clock, never waited for."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pamchain.web.server import SESSION_DEFAULTS, WebApp, WebHandle

from .conftest import PASSPHRASE, PHONE, Phone, Stack, create_key, wait_for

# Hides or shows the page as a phone does when the app goes to the background (headless Chromium has no
# window to hide): document.hidden / visibilityState and the visibilitychange event the app listens to.
SET_HIDDEN = """(hidden) => {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


@pytest.fixture(scope="module")
def default_web(stack: Stack) -> Iterator[WebHandle]:
    """`pamchain web` with the default session times (the session-wide one keeps bob's phone unlocked)."""
    config = dataclasses.replace(
        stack.web.app.config,
        session_idle_s=SESSION_DEFAULTS["idle_s"],
        session_hidden_s=SESSION_DEFAULTS["hidden_s"],
        recent_auth_s=SESSION_DEFAULTS["recent_auth_s"],
    )
    with WebHandle(WebApp(config), "127.0.0.1", 0) as handle:
        yield handle


@pytest.fixture
def clocked(browser: Any, stack: Stack, default_web: WebHandle) -> Iterator[Callable[[str], Phone]]:
    """A factory of phones whose page clock the test controls, enrolled for `name`, on their home screen."""
    contexts: list[Any] = []

    def make(name: str) -> Phone:
        context = browser.new_context(viewport=PHONE, locale="en-GB", device_scale_factor=1, has_touch=True)
        contexts.append(context)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: print(f"[browser pageerror] {exc}"))
        page.clock.install()  # time still flows; fast_forward jumps it and fires the timers due
        page.goto(default_web.url)
        phone = Phone(page, context, stack.tmp / "screenshots")
        stack.enrol(name, create_key(phone))
        page.get_by_role("heading", name="Unlock my account").wait_for()
        return phone

    yield make
    for context in contexts:
        context.close()


def _unlocked(page: Any) -> bool:
    return bool(page.get_by_role("navigation").is_visible())


def _unlock_key(page: Any, passphrase: str = PASSPHRASE) -> None:
    page.get_by_label("Passphrase", exact=True).fill(passphrase)
    page.get_by_role("button", name="Unlock", exact=True).click()


def _sent(page: Any, status_id: str) -> int:
    status = page.locator(f"#{status_id}")
    wait_for(lambda: "Sent: request" in status.inner_text() or "Refused" in status.inner_text(), what="sent")
    assert "Sent: request" in status.inner_text(), status.inner_text()
    return int(status.inner_text().rsplit(" ", 1)[1].rstrip("."))


def test_session__idle__key_forgotten_then_unlocked_again(
    clocked: Callable[[str], Phone], stack: Stack
) -> None:
    page = clocked("pat").page
    page.clock.fast_forward("04:00")  # under the 5 min default
    assert _unlocked(page)
    page.get_by_role("heading", name="Unlock my account").click()  # the person uses the app: idle restarts
    page.clock.fast_forward("04:00")  # 8 min since the unlock, 4 since the last use
    assert _unlocked(page)

    page.clock.fast_forward("01:05")
    page.get_by_role("heading", name="Unlock this phone's key").wait_for()
    assert not page.get_by_role("navigation").is_visible()
    assert "Locked after a while without use" in page.locator("#unlock-status").inner_text()

    _unlock_key(page, "not the passphrase")
    wait_for(lambda: "Wrong passphrase" in page.locator("#unlock-status").inner_text(), what="refused")
    _unlock_key(page)
    page.get_by_role("heading", name="Unlock my account").wait_for()
    assert page.get_by_label("Passphrase", exact=True).count() == 0  # the typed passphrase left the page
    # The key decrypted again signs: an unlock request goes through.
    count = stack.client.request_count()
    page.get_by_role("button", name="Unlock my account").click()
    rid = _sent(page, "home-status")
    assert rid == count + 1 and stack.client.request_count() == count + 1


def test_session__hidden__locks_sooner_than_idle(clocked: Callable[[str], Phone]) -> None:
    page = clocked("tess").page
    page.evaluate(SET_HIDDEN, True)
    page.clock.fast_forward("00:40")  # back before the 60 s hidden limit: still unlocked
    page.evaluate(SET_HIDDEN, False)
    assert _unlocked(page)

    page.evaluate(SET_HIDDEN, True)
    page.clock.fast_forward("01:01")  # 101 s since the unlock, far from the idle limit, but 61 s hidden
    page.evaluate(SET_HIDDEN, False)
    page.get_by_role("heading", name="Unlock this phone's key").wait_for()
    assert "in the background" in page.locator("#unlock-status").inner_text()
    _unlock_key(page)
    page.get_by_role("heading", name="Unlock my account").wait_for()


def _break_glass(page: Any) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Elevation").click()
    page.get_by_label("Duration", exact=True).fill("5")
    page.get_by_label("Unit").select_option(label="minutes")
    page.get_by_label("Break-glass: emergency access").check()
    page.get_by_role("button", name="Ask").click()


def test_session__sensitive_action_after_recent_window__asks_passphrase_again(
    clocked: Callable[[str], Phone], stack: Stack
) -> None:
    page = clocked("rose").page
    dialog = page.get_by_role("dialog", name="Confirm with your passphrase")

    # Within the recent-auth window (2 min by default) a sensitive action goes straight through.
    page.get_by_role("navigation").get_by_role("link", name="Password").click()
    page.get_by_label("New password", exact=True).fill("Quiet-Meadow-Stone-47")
    page.get_by_label("New password again").fill("Quiet-Meadow-Stone-47")
    page.get_by_role("button", name="Send the change").click()
    _sent(page, "password-status")
    assert not dialog.is_visible()

    page.clock.fast_forward("02:30")
    count = stack.client.request_count()
    _break_glass(page)
    dialog.wait_for()
    dialog.get_by_role("button", name="Cancel").click()
    wait_for(lambda: not dialog.is_visible(), what="dialog closed")
    assert stack.client.request_count() == count  # cancelled: nothing signed, nothing sent

    page.get_by_role("button", name="Ask").click()
    dialog.wait_for()
    dialog.get_by_label("Passphrase").fill("not the passphrase")
    dialog.get_by_role("button", name="Confirm").click()
    wait_for(lambda: "Wrong passphrase" in page.locator("#reauth-status").inner_text(), what="refused")
    assert dialog.is_visible() and stack.client.request_count() == count
    dialog.get_by_label("Passphrase").fill(PASSPHRASE)
    dialog.get_by_role("button", name="Confirm").click()
    rid = _sent(page, "elevate-status")
    assert not dialog.is_visible()
    request = stack.client.request(rid)
    assert request.break_glass and stack.client.request_count() == count + 1

    # Confirming renewed the window; an ordinary action after it is over never asks.
    page.clock.fast_forward("02:30")
    page.get_by_role("navigation").get_by_role("link", name="Unlock").click()
    page.get_by_role("button", name="Unlock my account").click()
    _sent(page, "home-status")
    assert not dialog.is_visible()
