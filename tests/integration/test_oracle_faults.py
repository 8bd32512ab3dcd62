"""Fault injection: the real oracle process against a real node and a real Samba AD DC, with parts taken away.

AD unreachable across expiries, the node unreachable across expiries, the payload store unreachable and a
payload missing (SIGKILL at random points is test_oracle_crash.py). Each run counts what the promise is
about: actions lost, outcomes reached twice, receipts duplicated, how long removals took once the outage
ended, and removals that waited behind another action. Outages last PAMCHAIN_FAULT_OUTAGE seconds: 20 in the
default suite (its time budget), 60 with --run-slow (the figures in docs/reliability.md), at least 20.
Set PAMCHAIN_FAULT_REPORT=file to collect the figures (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from eth_utils import keccak
from pamchain.sdk.chain.events import Alarm
from pamchain.sdk.chain.model import Action, AlarmKind, Outcome
from pamchain.sdk.directory import AuthenticationFailed
from pamchain.sdk.directory.ldap import LdapConfig, LdapDirectory
from pamchain.sdk.payloads.sealed import seal_password
from pamchain.sdk.payloads.store import ChainAuthorizer, PayloadClient, PayloadStore, ServedStore

from support.rpc import free_port
from support.world import DOMAIN, directory_id

from .ad import RunningDC
from .faults import FaultFigures, TcpProxy, removal_lateness, wait_for
from .oracle_world import NEW_PASSWORD, Suite, World, answers, receipts_by_key
from .oracle_world import grant as make_grant
from .test_oracle_crash import outcomes_logged, start, write_config

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("suite", ["pamchain"], indirect=True)]
_OUTAGE_SETTING = os.environ.get("PAMCHAIN_FAULT_OUTAGE")


@pytest.fixture(scope="module")
def outage(request: pytest.FixtureRequest) -> float:
    """Seconds a fault lasts (the grants expire inside it, hence the floor of 20)."""
    default = 60.0 if request.config.getoption("--run-slow") else 20.0
    return max(float(_OUTAGE_SETTING) if _OUTAGE_SETTING else default, 20.0)


NAMES = ("alice", "bob", "carol")


@contextmanager
def oracle_process(config: Path, log: Path, health_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The oracle as a process, once it answers on its health port (start-up compiles the contracts, which
    takes seconds on a loaded machine: grants made before would expire before it starts)."""
    process = start(config, log)
    try:
        wait_for(lambda: _healthy(process, log, health_port), 180, "oracle started", every=0.2)
        yield process
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _count(
    figures: FaultFigures, suite: Suite, first_block: int, expected: set[tuple[int, int]], log: Path
) -> None:
    receipts = receipts_by_key(suite.client, first_block)
    figures.actions_expected = len(expected)
    figures.actions_lost = len(expected - set(receipts))
    figures.receipts_duplicated = sum(count - 1 for count in receipts.values())
    figures.outcomes_twice = sum(count - 1 for count in outcomes_logged(log).values())


def _removed_times(
    directory: LdapDirectory, world: World, names: list[str], timeout: float
) -> dict[str, float]:
    """Monotonic time at which each named account stopped being an effective member."""
    gone: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(gone) < len(names):
        assert time.monotonic() < deadline, f"still members after {timeout} s: {set(names) - set(gone)}"
        for name in names:
            if name not in gone and not directory.is_member(world.group_ref, world.ref(name)):
                gone[name] = time.monotonic()
        time.sleep(0.02)
    return gone


def _healthy(process: subprocess.Popen[bytes], log: Path, port: int) -> bool:
    assert process.poll() is None, log.read_text()[-3000:]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(json.load(response)["healthy"])
    except (OSError, ValueError):
        return False


def test_fault__ad_unreachable_across_expiries__removed_on_return_alarmed_once(
    suite: Suite,
    world: World,
    ldap_directory: LdapDirectory,
    ldap_config: LdapConfig,
    samba: RunningDC,
    tmp_path: Path,
    outage: float,
) -> None:
    figures = FaultFigures("AD unreachable", notes={"outage_seconds": outage})
    first_block = int(suite.env.w3.eth.block_number) + 1
    port = free_port()
    config = write_config(tmp_path, suite, world, ldap_config, port, oracle={"late_removal_alarm": 2})
    log = tmp_path / "oracle.log"
    with oracle_process(config, log, port) as process:
        grants = {name: make_grant(suite, name, 6 + 2 * i) for i, name in enumerate(NAMES)}
        wait_for(
            lambda: all(ldap_directory.is_member(world.group_ref, world.ref(n)) for n in NAMES),
            30,
            "members added",
        )
        samba.stop()
        cut = time.monotonic()
        try:
            while time.monotonic() - cut < outage:  # the fault's duration, not a wait on the oracle
                assert process.poll() is None, log.read_text()[-3000:]
                time.sleep(0.5)
        finally:
            samba.start()
        probe = LdapDirectory(ldap_config)
        back = wait_for(lambda: answers(probe), 60, "DC answers again")
        probe.close()
        gone = _removed_times(ldap_directory, world, list(NAMES), 60)
        figures.removal_delays_after_outage = [round(gone[n] - back, 3) for n in NAMES]
        expected = {
            (rid, int(a)) for rid in grants.values() for a in (Action.ADD_MEMBER, Action.REMOVE_MEMBER)
        }
        wait_for(lambda: expected <= set(receipts_by_key(suite.client, first_block)), 60, "receipts")
    _count(figures, suite, first_block, expected, log)
    late = [
        e
        for e in suite.client.events(first_block)
        if isinstance(e, Alarm) and e.kind is AlarmKind.REMOVAL_LATE
    ]
    figures.notes["late_removal_alarms"] = len(late)
    figures.save()
    assert sorted(a.request_id for a in late) == sorted(grants.values())  # one alarm per late removal
    assert (figures.actions_lost, figures.receipts_duplicated, figures.outcomes_twice) == (0, 0, 0)
    assert all(
        getattr(suite.client.receipt(rid, Action.REMOVE_MEMBER), "outcome", None) is Outcome.APPLIED
        for rid in grants.values()
    )
    assert max(figures.removal_delays_after_outage) < 5, figures


def test_fault__node_unreachable_across_expiries__removed_on_time_receipts_later(
    suite: Suite,
    world: World,
    ldap_directory: LdapDirectory,
    ldap_config: LdapConfig,
    tmp_path: Path,
    outage: float,
) -> None:
    figures = FaultFigures("node unreachable", notes={"outage_seconds": outage})
    target = urlsplit(suite.env.url)
    proxy = TcpProxy((target.hostname or "127.0.0.1", target.port or 80))
    first_block = int(suite.env.w3.eth.block_number) + 1
    port = free_port()
    config = write_config(tmp_path, suite, world, ldap_config, port, rpc_url=proxy.url)
    log = tmp_path / "oracle.log"
    try:
        with oracle_process(config, log, port) as process:
            grants = {name: make_grant(suite, name, 6 + 2 * i) for i, name in enumerate(NAMES)}
            expiries = {name: suite.client.request(rid).expiry for name, rid in grants.items()}
            wait_for(
                lambda: all(ldap_directory.is_member(world.group_ref, world.ref(n)) for n in NAMES),
                30,
                "members added",
            )
            proxy.cut()
            cut = time.monotonic()
            gone = _removed_times(ldap_directory, world, list(NAMES), outage)
            wall = {n: time.time() - (time.monotonic() - gone[n]) for n in NAMES}
            figures.removal_lateness_while_reachable = [
                round(max(wall[n] - expiries[n], 0.0), 3) for n in NAMES
            ]
            assert not receipts_by_key(suite.client, first_block).keys() >= {
                (rid, int(Action.REMOVE_MEMBER)) for rid in grants.values()
            }, "receipts cannot have been posted through a cut link"
            while time.monotonic() - cut < outage:  # the fault's duration
                assert process.poll() is None, log.read_text()[-3000:]
                time.sleep(0.5)
            proxy.restore()
            restored = time.monotonic()
            expected = {
                (rid, int(a)) for rid in grants.values() for a in (Action.ADD_MEMBER, Action.REMOVE_MEMBER)
            }
            done = wait_for(
                lambda: expected <= set(receipts_by_key(suite.client, first_block)), 60, "receipts"
            )
            figures.notes["receipts_after_restore_seconds"] = round(done - restored, 3)
    finally:
        proxy.close()
    _count(figures, suite, first_block, expected, log)
    figures.removals_behind_another_action = sum(1 for late in removal_lateness(log).values() if late > 1.0)
    figures.save()
    assert (figures.actions_lost, figures.receipts_duplicated, figures.outcomes_twice) == (0, 0, 0)
    assert max(figures.removal_lateness_while_reachable) < 5, figures  # AD was there: removed on time


def test_fault__payload_store_unreachable_and_payload_missing__nothing_else_waits(
    suite: Suite,
    world: World,
    ldap_directory: LdapDirectory,
    ldap_config: LdapConfig,
    ad_password: str,
    tmp_path: Path,
) -> None:
    figures = FaultFigures("payload store unreachable, a payload missing")
    store = PayloadStore(tmp_path / "payloads", ChainAuthorizer(suite.client))
    with ServedStore(store) as served:
        proxy = TcpProxy(("127.0.0.1", served.port))
        first_block = int(suite.env.w3.eth.block_number) + 1
        port = free_port()
        config = write_config(
            tmp_path,
            suite,
            world,
            ldap_config,
            port,
            oracle={"payload_store": proxy.url, "retry_cap": 2, "retry_base": 0.2, "max_attempts": 16},
        )
        log = tmp_path / "oracle.log"
        try:
            with oracle_process(config, log, port):
                carol = suite.as_("carol")
                sealed = seal_password(carol.oracle_key(DOMAIN), directory_id("carol"), NEW_PASSWORD)
                stored = carol.request_password_reset(
                    PayloadClient(served.url).put(suite.env.accounts["carol"], sealed)
                )
                missing = suite.as_("alice").request_password_reset(keccak(b"never stored"))
                proxy.cut()
                suite.as_("bob").approve(stored)
                suite.as_("bob").approve(missing)
                for _ in range(3):
                    with pytest.raises(AuthenticationFailed):
                        ldap_directory.authenticate(world.ref("bob"), "wrong")
                unlock = suite.as_("bob").request_unlock()
                grant = make_grant(suite, "alice", 4)
                expiry = suite.client.request(grant).expiry
                wait_for(lambda: suite.client.receipt(unlock, Action.UNLOCK) is not None, 30, "unlock")
                wait_for(lambda: suite.client.receipt(grant, Action.REMOVE_MEMBER) is not None, 30, "removal")
                figures.removal_lateness_while_reachable = [removal_lateness(log).get(grant, -1.0)]
                assert suite.client.receipt(stored, Action.RESET_PASSWORD) is None  # waiting, not blocking
                proxy.restore()
                wait_for(lambda: suite.client.receipt(stored, Action.RESET_PASSWORD) is not None, 30, "reset")
                wait_for(
                    lambda: suite.client.receipt(missing, Action.RESET_PASSWORD) is not None, 150, "missing"
                )
        finally:
            proxy.close()
    expected = {
        (unlock, int(Action.UNLOCK)),
        (grant, int(Action.ADD_MEMBER)),
        (grant, int(Action.REMOVE_MEMBER)),
        (stored, int(Action.RESET_PASSWORD)),
        (missing, int(Action.RESET_PASSWORD)),
    }
    _count(figures, suite, first_block, expected, log)
    figures.removals_behind_another_action = sum(1 for late in removal_lateness(log).values() if late > 1.0)
    figures.notes["grant_expiry_to_now"] = round(time.time() - expiry, 1)
    figures.save()
    assert suite.client.receipt(stored, Action.RESET_PASSWORD).outcome is Outcome.APPLIED  # type: ignore[union-attr]
    assert suite.client.receipt(missing, Action.RESET_PASSWORD).outcome is Outcome.FAILED  # type: ignore[union-attr]
    ldap_directory.authenticate(world.ref("carol"), NEW_PASSWORD)
    ldap_directory.authenticate(world.ref("bob"), ad_password)
    assert (figures.actions_lost, figures.receipts_duplicated, figures.outcomes_twice) == (0, 0, 0)
    assert figures.removals_behind_another_action == 0, figures
