"""The phone app's world: a real node, the suite, an oracle on an in-memory directory, the payload store,
`pamchain web`, and Debian's Chromium driven by Playwright at phone size (360x740)."""

from __future__ import annotations

import contextlib
import faulthandler
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.devnet.world import world_plan
from pamchain.node.genesis import deployment_genesis
from pamchain.node.service import NodeHandle, run_node
from pamchain.sdk.chain.client import Deployment, PamClient, connect
from pamchain.sdk.chain.deployer import PolicySpec, deploy_plan
from pamchain.sdk.directory import StaticIdMap, group_target_id
from pamchain.sdk.directory.memory import MemoryDirectory
from pamchain.sdk.oracle.assembly import assemble
from pamchain.sdk.oracle.follower import Finality
from pamchain.sdk.payloads.store import ChainAuthorizer, PayloadStore, ServedStore
from pamchain.web.server import WebHandle, group_targets, start_web

from support.rpc import free_port

CHROMIUM = os.environ.get("PAMCHAIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}
DOMAIN = b"corp.example".ljust(32, b"\x00")
DC1 = b"DC1".ljust(32, b"\x00")
GROUP_DN = "CN=Domain Admins,CN=Users,DC=corp,DC=example"
PSEUDONYM_KEY = keccak(text="web-test pseudonym key")
ADMINS = group_target_id(PSEUDONYM_KEY, GROUP_DN)
# ivan and judy: access reviews. kate, leo and mia approve with passkeys, nina asks them, olga breaks glass
# (tests/web/test_passkey.py): bob, the session's approver, keeps approving without one.
# Justifications: a group of its own whose approvers are bob (his phone), mona (a CLI device) and nora.
SERVERS_DN = "CN=Server Admins,CN=Users,DC=corp,DC=example"
SERVERS = group_target_id(PSEUDONYM_KEY, SERVERS_DN)
# kim, liam, mona, nora, oscar: justifications; pia: password strength.
# sara breaks glass without a passkey and is denied, rita loses her phone (tests/web/test_screens.py).
# pat and tess: sessions (tests/web/test_session.py), rose breaks glass there; sam asks for Server Admins
# (tests/web/test_offline.py).
# una: the first day of a phone nobody ever funded (tests/web/test_phone.py).
PEOPLE = (
    "alice",
    "bob",
    "dave",
    "erin",
    "frank",
    "gina",
    "hank",
    "ivan",
    "judy",
    "kate",
    "leo",
    "mia",
    "nina",
    "olga",
    "kim",
    "liam",
    "mona",
    "nora",
    "oscar",
    "pia",
    "rita",
    "sara",
    "pat",
    "tess",
    "rose",
    "sam",
    "una",
)
APPROVERS = ("bob", "kate", "leo", "mia")
SERVER_APPROVERS = ("bob", "mona", "nora")
SERVER_REQUESTERS = ("kim", "liam", "sam")
# A policy names at most 16 requesters (policies.vy MAX_REQUESTERS): Domain Admins lists those who ask for it.
ADMINS_REQUESTERS = tuple(
    n
    for n in PEOPLE
    if n not in ("kim", "liam", "mona", "nora", "oscar", "pia", "rita", "pat", "tess", "sam", "una")
)
FIRST_PASSWORD = "Winter-Harbour-Lamp-81"
PASSPHRASE = "correct horse battery"
DAY = 24 * 3600
# Screenshots go to docs/screenshots/ only when asked (PAMCHAIN_WEB_SCREENSHOTS=1), so a test run leaves the
# work tree clean; otherwise they land in the session's temp dir.
DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NAMES = ("deployer", "c1", "c2", "c3", "oracle")


def directory_id(name: str) -> bytes:
    return keccak(text=f"web-test-directory-id:{name}")


class _OracleLoop:
    """The oracle ticking on a thread; survives the node going away (the daemon's own loop would stop)."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="web-test-oracle", daemon=True)
        self.errors = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.daemon.run_once()
            except Exception:  # node down: try again, as a supervised daemon would be restarted
                self.errors += 1
                self._stop.wait(0.3)
            self._stop.wait(0.1)

    def start(self) -> _OracleLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.daemon.journal.close()


@dataclass
class Stack:
    """Everything the browser talks to, and the SDK handles the tests act and assert with."""

    tmp: Path
    genesis: dict[str, Any]
    signer: LocalAccount
    port: int
    node: NodeHandle
    accounts: dict[str, LocalAccount]
    client: PamClient
    deployment: Deployment
    directory: MemoryDirectory
    users: dict[str, Any]
    web: WebHandle
    payload_url: str
    oracle: _OracleLoop
    enrolled: dict[str, str] = field(default_factory=dict)

    def enrol(self, name: str, device: str) -> None:
        """The council's side of enrolment: map the phone's address to the person. Nothing else: the chain is a
        free-gas one, so the device never holds ether."""
        self.client.enrol(device, directory_id(name), DOMAIN)
        self.enrolled[name] = device

    def sdk_device(self, name: str) -> PamClient:
        """A device key held by the test (an approver's second phone, say), enrolled (never funded)."""
        account = Account.from_key(keccak(text=f"web-test-sdk-device:{name}"))
        if name not in self.enrolled:
            self.enrol(name, account.address)
        return self.client.as_account(account)

    def stop_node(self) -> None:
        self.node.stop()

    def start_node(self) -> None:
        """The same node again (same data, same port), as after a restart."""
        self.node = _start_node(self.genesis, self.signer, self.tmp / "node", self.port)


_RUNNING: list[Any] = []  # run_node's context managers: a collected one would stop its node


def _start_node(genesis: dict[str, Any], signer: LocalAccount, datadir: Path, port: int) -> NodeHandle:
    manager = run_node(genesis, signer.key, datadir, port=port)
    handle = manager.__enter__()
    _RUNNING.append(manager)
    return handle


# Package scope, not session: the same in a serial run (tests/web comes last), but under xdist the worker that
# ran tests/web goes on with other files, and Playwright's sync API keeps an asyncio loop running in the main
# thread until it stops (asyncio.run() then fails in every later test of that worker).
@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web")
    accounts = {n: Account.from_key(keccak(text=f"pamchain-web-test-key:{n}")) for n in NAMES}
    signer = Account.from_key(keccak(text="pamchain-web-test-signer"))
    genesis = deployment_genesis([signer.address], 1337, {}, accounts["deployer"].address)  # nobody funded
    port = free_port()
    with contextlib.ExitStack() as stop:
        node = _start_node(genesis, signer, tmp / "node", port)
        holder: dict[str, NodeHandle] = {"node": node}
        stop.callback(lambda: holder["node"].stop())
        w3 = connect(node.url)
        approvers = tuple(directory_id(n) for n in APPROVERS)
        plan = world_plan(
            [accounts[n].address for n in ("c1", "c2", "c3")],
            accounts["oracle"],
            [],  # phones are enrolled as the test creates them, by the bootstrapper
            ADMINS,
            approvers,
            tuple(directory_id(n) for n in ADMINS_REQUESTERS),
            unlock_limit=1000,
            unlock_window=3600,
            end_bootstrap=False,
            more_policies=[
                PolicySpec(
                    SERVERS,
                    DOMAIN,
                    approvers=tuple(directory_id(n) for n in SERVER_APPROVERS),
                    approvals_required=1,
                    max_duration=3600,
                    requesters=tuple(directory_id(n) for n in SERVER_REQUESTERS),
                )
            ],
            approvals_required=1,
            max_duration=3600,
            break_glass_approvals=1,
            break_glass_max_duration=3600,
        )
        client, deployment = deploy_plan(w3, accounts["deployer"], plan)

        directory = MemoryDirectory(base_dn="DC=corp,DC=example")
        group = directory.create_group("Domain Admins")
        assert group.dn == GROUP_DN
        assert directory.create_group("Server Admins").dn == SERVERS_DN
        users = {name: directory.create_user(name, FIRST_PASSWORD) for name in PEOPLE}
        id_map = StaticIdMap.from_hex(
            {"0x" + directory_id(n).hex(): n for n in PEOPLE},
            {"0x" + ADMINS.hex(): GROUP_DN, "0x" + SERVERS.hex(): SERVERS_DN},
        )
        store = PayloadStore(
            tmp / "payloads", ChainAuthorizer(PamClient(connect(node.url), deployment.address))
        )
        served = stop.enter_context(ServedStore(store))
        (tmp / "oracle").mkdir()
        daemon = assemble(
            PamClient(connect(node.url), deployment.address, accounts["oracle"]),
            accounts["oracle"],
            directory,
            tmp / "oracle" / "journal.sqlite3",
            domain=DOMAIN,
            dc_id=DC1,
            id_map=id_map,
            start_block=deployment.block,
            payload_store_url=served.url,
            finality=Finality(),
            poll_interval=0.1,
            reconcile_interval=3600,
        )
        oracle = _OracleLoop(daemon).start()
        stop.callback(oracle.stop)
        people = {"0x" + directory_id(n).hex(): {"label": n.capitalize(), "account": n} for n in PEOPLE}
        web = start_web(
            rpc_url=node.url,
            deployment=deployment,
            payload_store_url=served.url,
            domain_name="corp.example",
            people=people,
            groups=group_targets([GROUP_DN, SERVERS_DN], PSEUDONYM_KEY),
            kdf_log_n=12,  # fast scrypt for tests; real phones use 2**17
            poll_ms=500,
            passkey_timeout_ms=4000,  # "no passkey answered" within the tests' patience
            # Bob's phone lives for the whole run: no idle lock or passphrase re-ask midway (the defaults are
            # tested on a server of their own, tests/web/test_session.py).
            session_idle_s=DAY,
            session_hidden_s=DAY,
            recent_auth_s=DAY,
        )
        stop.callback(web.stop)
        result = Stack(
            tmp=tmp,
            genesis=genesis,
            signer=signer,
            port=port,
            node=node,
            accounts=accounts,
            client=client,
            deployment=deployment,
            directory=directory,
            users=users,
            web=web,
            payload_url=served.url,
            oracle=oracle,
        )
        try:
            yield result
        finally:
            holder["node"] = result.node


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run bash .ci/install-browser.sh")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class Phone:
    """One person's phone: a browser context at 360x740 with its own storage."""

    page: Any
    context: Any
    shots: Path

    def shot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=False)


def _new_phone(browser: Any, stack: Stack, locale: str, host: str | None = None) -> Phone:
    context = browser.new_context(viewport=PHONE, locale=locale, device_scale_factor=1, has_touch=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on(
        "console", lambda msg: msg.type in ("error", "warning") and print(f"[browser {msg.type}] {msg.text}")
    )
    page.on("pageerror", lambda exc: print(f"[browser pageerror] {exc}"))
    # WebAuthn needs a domain, not an IP address: passkey phones open the app at localhost (the relying party).
    page.goto(stack.web.url if host is None else stack.web.url.replace("127.0.0.1", host))
    shots = DOC_SCREENSHOTS if os.environ.get("PAMCHAIN_WEB_SCREENSHOTS") else stack.tmp / "screenshots"
    return Phone(page, context, shots)


@pytest.fixture
def phone(browser: Any, stack: Stack) -> Iterator[Callable[..., Phone]]:
    """A factory of fresh phones (empty storage), closed after the test."""
    phones: list[Phone] = []

    def make(locale: str = "en-GB", host: str | None = None) -> Phone:
        phones.append(_new_phone(browser, stack, locale, host))
        return phones[-1]

    yield make
    for made in phones:
        made.context.close()


@pytest.fixture(scope="package")
def approver(browser: Any, stack: Stack) -> Iterator[Phone]:
    """Bob's phone, the approver of elevations and password changes, kept for the whole session."""
    bob = _new_phone(browser, stack, "en-GB")
    address = create_key(bob)
    stack.enrol("bob", address)
    bob.page.get_by_role("heading", name="Unlock my account").wait_for()
    yield bob
    bob.context.close()


def create_key(phone: Phone, passphrase: str = PASSPHRASE) -> str:
    """Create the device key in the browser; returns the address the page shows."""
    page = phone.page
    page.get_by_label("Passphrase", exact=True).fill(passphrase)
    page.get_by_label("Passphrase again").fill(passphrase)
    page.get_by_role("button", name="Create the key").click()
    address = page.locator("#device-address")
    address.wait_for()
    return str(address.inner_text()).strip()


def enrolled_phone(
    phone_factory: Callable[..., Phone], stack: Stack, name: str, host: str | None = None
) -> Phone:
    """A phone whose key was created in the browser and enrolled for `name`, on its home screen."""
    phone = phone_factory(host=host)
    address = create_key(phone)
    stack.enrol(name, address)
    phone.page.get_by_role("heading", name="Unlock my account").wait_for()
    return phone


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            # The node, the payload store, the web server and the oracle all run in this process: where each
            # thread stands is what explains a stall (printed in the failure's captured stderr).
            faulthandler.dump_traceback(all_threads=True)
            raise AssertionError(f"{what} not met after {timeout} s")
        time.sleep(0.1)
