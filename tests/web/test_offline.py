"""The phone offline: the last known state from the phone's cache, marked "as of", sending refused; the app
shell from the service worker; `pamchain web` serving the manifest, icons and worker with the right types."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from eth_account import Account
from pamchain.web.server import WebApp, WebConfig, WebError, WebHandle, static_dir

from support.rpc import free_port

from .conftest import DAY, PASSPHRASE, PHONE, Phone, Stack, create_key, wait_for


class OwnWeb:
    """A `pamchain web` of this test's own, whose way to the node it cuts and restores, or which it stops."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.port = free_port()
        self.handle = WebHandle(WebApp(config), "127.0.0.1", self.port).start()

    @property
    def url(self) -> str:
        return self.handle.url

    def cut(self) -> None:
        """The relay now forwards to a port nobody listens on: the node is unreachable."""
        dead = f"http://127.0.0.1:{free_port()}"
        self.handle.app.config = dataclasses.replace(self.config, rpc_url=dead)

    def restore(self) -> None:
        self.handle.app.config = self.config

    def stop(self) -> None:
        self.handle.stop()

    def start(self) -> None:
        """Listening again on the same port (same origin: same storage and service worker)."""
        self.handle = WebHandle(WebApp(self.config), "127.0.0.1", self.port).start()


@pytest.fixture
def own_web(stack: Stack) -> Iterator[OwnWeb]:
    web = OwnWeb(stack.web.app.config)
    yield web
    web.stop()


SERVICE_WORKER_READY = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return Boolean(registration.active && navigator.serviceWorker.controller);
}"""

STORAGE = """async () => {
  const local = Object.keys(localStorage).map((k) => [k, localStorage.getItem(k)]);
  const cached = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      cached.push([name, request.url, await (await cache.match(request)).text()]);
    }
  }
  return { local, cached };
}"""


def test_offline__cached_state_marked_sending_refused_then_fresh_again(
    browser: Any, own_web: OwnWeb, approver: Phone, stack: Stack
) -> None:
    context = browser.new_context(viewport=PHONE, locale="en-GB", device_scale_factor=1, has_touch=True)
    try:
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: print(f"[browser pageerror] {exc}"))
        page.goto(own_web.url)
        phone = Phone(page, context, stack.tmp / "screenshots")
        address = create_key(phone)
        stack.enrol("sam", address)
        page.get_by_role("heading", name="Unlock my account").wait_for()
        page.get_by_role("button", name="Unlock my account").click()
        receipt = page.locator(".request .receipt").first
        receipt.wait_for()
        rid = int(str(page.locator(".request").first.get_attribute("id")).split("-")[1])
        # And a grant with its expiry: asked on the phone, approved on bob's.
        page.get_by_role("navigation").get_by_role("link", name="Elevation").click()
        page.get_by_label("Group").select_option(label="Server Admins")
        page.get_by_label("Duration", exact=True).fill("30")
        page.get_by_label("Unit").select_option(label="minutes")
        page.get_by_role("button", name="Ask").click()
        status = page.locator("#elevate-status")
        wait_for(lambda: "Sent: request" in status.inner_text(), what="elevation sent")
        grant = int(status.inner_text().rsplit(" ", 1)[1].rstrip("."))
        bob = approver.page
        bob.get_by_role("link", name="Approvals").click()
        bob.get_by_role("button", name=f"Approve request {grant}").click()
        bob.locator(f"#pending-{grant}").wait_for(state="detached")
        page.get_by_role("navigation").get_by_role("link", name="Unlock").click()
        active = page.locator(f"#request-{grant}[data-status='6'] .countdown")
        active.wait_for()
        wait_for(lambda: page.evaluate(SERVICE_WORKER_READY), what="page controlled by the worker")
        # The state with the receipt is in the phone's cache (saved after every good poll).
        wait_for(
            lambda: "ReceiptPosted" in json.dumps(page.evaluate(STORAGE)["local"]), what="receipt cached"
        )

        # The node becomes unreachable; the page is reloaded (as a phone reopens the app).
        own_web.cut()
        response = page.reload()
        assert response is not None and response.from_service_worker
        page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
        page.get_by_role("button", name="Unlock", exact=True).click()
        banner = page.locator("#offline")
        wait_for(lambda: banner.is_visible() and "as of" in banner.inner_text(), what="offline mark")
        assert "Offline — as of " in banner.inner_text()
        cached = page.locator(f"#request-{rid}")
        cached.wait_for()
        assert cached.locator(".receipt").inner_text().startswith("Unlocked on DC1 at ")
        assert page.locator(f"#request-{grant} .status").inner_text() == "Active"
        assert re.match(r"ends in (29|30) min", page.locator(f"#request-{grant} .countdown").inner_text())
        phone.shot("16-offline")
        # Sending is refused, with the reason, rather than queued.
        send = page.get_by_role("button", name="Unlock my account")
        assert send.is_disabled()
        assert "nothing can be sent" in str(
            send.evaluate("el => document.getElementById('offline').textContent")
        )
        assert send.get_attribute("aria-describedby") == "offline"
        count = stack.client.request_count()
        page.get_by_role("navigation").get_by_role("link", name="Elevation").click()
        assert page.get_by_role("button", name="Ask").is_disabled()

        # No network at all (the server itself gone): the shell still opens from the service worker.
        own_web.stop()
        page.reload()
        page.get_by_role("heading", name="Unlock this phone's key").wait_for()
        page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
        page.get_by_role("button", name="Unlock", exact=True).click()
        page.get_by_role("navigation").get_by_role("link", name="Unlock").click()  # the page was on Elevation
        page.locator(f"#request-{rid} .receipt").wait_for()
        wait_for(lambda: "as of" in banner.inner_text(), what="offline mark without a server")

        # What the phone keeps is public: neither the passphrase nor the decrypted key, anywhere.
        keystore = next(v for k, v in page.evaluate(STORAGE)["local"] if k.startswith("pamchain:keystore"))
        private_key = Account.decrypt(keystore, PASSPHRASE).hex().removeprefix("0x")
        stored = page.evaluate(STORAGE)
        everything = json.dumps(stored).lower()
        assert private_key.lower() not in everything and PASSPHRASE.lower() not in everything
        assert stored["cached"] and all(name.startswith("pamchain-shell-") for name, _, _ in stored["cached"])

        # Back online: fresh state from the node, the mark gone, sending possible again.
        own_web.start()
        wait_for(lambda: not banner.is_visible(), what="back online")
        page.get_by_role("navigation").get_by_role("link", name="Unlock").click()
        page.get_by_role("button", name="Unlock my account").click()
        status = page.locator("#home-status")
        wait_for(lambda: "Sent: request" in status.inner_text(), what="sent once online")
        assert stack.client.request_count() == count + 1

        # "Forget this key" takes the phone's copy of the state with it.
        snapshots = "() => Object.keys(localStorage).filter((k) => k.startsWith('pamchain:snapshot'))"
        assert page.evaluate(snapshots)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("navigation").get_by_role("link", name="Device").click()
        page.get_by_role("button", name="Forget this key").click()
        page.get_by_role("heading", name="Create this phone's key").wait_for()
        assert page.evaluate(snapshots) == []
    finally:
        context.close()


CACHES = "async () => (await caches.keys()).filter((name) => name.startsWith('pamchain-shell-'))"


def test_service_worker__new_build__replaces_the_old_cache(
    browser: Any, own_web: OwnWeb, stack: Stack, tmp_path: Any
) -> None:
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    try:
        page = context.new_page()
        page.goto(own_web.url)
        wait_for(lambda: page.evaluate(SERVICE_WORKER_READY), what="page controlled by the worker")
        worker = (static_dir() / "sw.js").read_text(encoding="utf-8")
        old = re.search(r'const CACHE = "(pamchain-shell-[0-9a-f]+)"', worker)
        assert old is not None
        wait_for(lambda: page.evaluate(CACHES) == [old.group(1)], what="the build's cache")

        # The next build: the same files under a new cache version (what `npm run build` makes).
        nxt = tmp_path / "next"
        shutil.copytree(static_dir(), nxt)
        (nxt / "sw.js").write_text(worker.replace(old.group(1), old.group(1) + "0next"), encoding="utf-8")
        own_web.handle.app.static = nxt
        page.evaluate("async () => (await navigator.serviceWorker.ready).update()")
        wait_for(lambda: page.evaluate(CACHES) == [old.group(1) + "0next"], what="new cache only")
        page.reload()
        page.get_by_role("heading", name="Create this phone's key").wait_for()
    finally:
        context.close()


def test_shell__manifest_worker_icons_served_with_types_and_csp(stack: Stack) -> None:
    url = stack.web.url
    index = requests.get(url, timeout=10)
    csp = index.headers["Content-Security-Policy"]
    assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp
    assert 'rel="manifest"' in index.text

    worker = requests.get(url + "sw.js", timeout=10)
    assert worker.status_code == 200 and worker.headers["Content-Type"].startswith("text/javascript")
    assert worker.headers["Cache-Control"] == "no-store"  # a new build is seen at the next check
    assert 'const CACHE = "pamchain-shell-' in worker.text and "__SHELL__" not in worker.text

    manifest = requests.get(url + "manifest.webmanifest", timeout=10)
    assert manifest.headers["Content-Type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["display"] == "standalone" and body["start_url"] == "./" and body["name"] == "pamchain"
    sizes = set()
    for icon in body["icons"]:
        image = requests.get(url + icon["src"], timeout=10)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
        assert image.content.startswith(b"\x89PNG")
        sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes
    # Every file the worker precaches is served.
    shell = json.loads(worker.text.split("const SHELL = ", 1)[1].split(";", 1)[0])
    for path in shell:
        assert requests.get(url + path, timeout=10).status_code == 200, path
    # The icons folder serves icons only: no way out of it, and no other root file than the shell's.
    for path in ("icons/%2e%2e/%2e%2e/server.py", "icons/..%2f..%2fserver.py", "vite.config.js", "src/sw.js"):
        answer = requests.get(url + path, timeout=10)
        assert answer.status_code in (403, 404) and "import" not in answer.text, path


def test_config__session_times_default_and_configurable(stack: Stack) -> None:
    bare = WebConfig(rpc_url=stack.node.url, chain_id=1337, contract="0x" + "00" * 20, deployment_block=0)
    assert bare.public()["session"] == {"idle_s": 300, "hidden_s": 60, "recent_auth_s": 120}
    served = requests.get(stack.web.url + "config.json", timeout=10).json()["session"]
    assert served == {"idle_s": DAY, "hidden_s": DAY, "recent_auth_s": DAY}  # as conftest configured it
    config = dataclasses.replace(bare, session_idle_s=900, recent_auth_s=30)
    assert WebApp(config).config.public()["session"] == {"idle_s": 900, "hidden_s": 60, "recent_auth_s": 30}
    bad: list[dict[str, Any]] = [{"session_idle_s": 0}, {"session_hidden_s": -1}, {"recent_auth_s": 0}]
    for change in bad:
        with pytest.raises(WebError, match="at least one second"):
            WebApp(dataclasses.replace(bare, **change))
