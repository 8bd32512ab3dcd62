# Over 500 lines on purpose: the notifier end to end, channel by channel, against its real servers (SMTP, HTTP) started in the test.
"""The notifier end to end on the real bytecode (eth-tester), a real SMTP server with STARTTLS and a real HTTP
webhook receiver that verifies the HMAC."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.events import GenericEvent, LogPosition
from pamchain.sdk.chain.model import Action, Outcome
from pamchain.sdk.chain.transactions import wait_until
from pamchain.sdk.notify.assembly import assemble
from pamchain.sdk.notify.config import NotifyConfig
from pamchain.sdk.notify.daemon import NotifyDaemon, NotifyTick
from pamchain.sdk.notify.journal import FAILED, PENDING, SENT
from pamchain.sdk.notify.messages import Notification, notification_id, subject_line
from pamchain.sdk.notify.routing import Router
from pamchain.sdk.oracle.errors import ChainReorganised
from pamchain.sdk.oracle.logs import JsonFormatter

from support.rpc import free_port
from support.world import ADMINS, DOMAIN, Cast, directory_id

from .notify_parts import (
    SMTP_PASSWORD,
    SMTP_USER,
    Mailbox,
    Pki,
    WebhookReceiver,
    make_pki,
    smtp_server,
)

DC1 = b"DC1".ljust(32, b"\x00")
SECRET = b"webhook-secret-0123456789abcdef"
EMAIL = {"alice": "alice@corp.example", "bob": "bob@corp.example", "carol": "carol@corp.example"}
SOC_EMAIL = "soc@corp.example"


class Clock:
    """The notifier's clock, moved by the test so that retry times come due without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def key(name: str) -> str:
    return "0x" + directory_id(name).hex()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as r:
        yield r


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def smtp(pki: Pki, smtp_port: int, mailbox: Mailbox) -> Iterator[int]:
    with smtp_server(pki, smtp_port, mailbox):
        yield smtp_port


def settings(
    tmp_path: Path, pki: Pki, smtp_port: int, hook_url: str, *, webhook_secret: bytes = SECRET
) -> dict[str, Any]:
    (tmp_path / "hook.secret").write_bytes(webhook_secret)
    (tmp_path / "smtp.password").write_text(SMTP_PASSWORD + "\n")
    return {
        "chain": {"rpc_url": "unused", "deployment": "unused.json", "finality": 0, "poll_interval": 0.05},
        "notify": {
            "journal": "notify.sqlite3",
            "security_officers": ["soc"],
            "retry_base": 1,
            "retry_cap": 1,
        },
        "targets": {"0x" + ADMINS.hex(): "Domain Admins"},
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp_port,
            "sender": "pamchain@corp.example",
            "ca_file": str(pki.ca_cert),
            "username": SMTP_USER,
            "password_file": "smtp.password",
            "timeout": 10,
        },
        "webhooks": {"soc": {"url": hook_url, "secret_file": "hook.secret", "timeout": 10}},
        "recipients": {
            **{key(name): {"email": address} for name, address in EMAIL.items()},
            "soc": {"email": SOC_EMAIL, "webhook": "soc"},
        },
    }


def build(
    cast: Cast, tmp_path: Path, data: dict[str, Any], clock: Clock | None = None, *, from_head: bool = False
) -> tuple[NotifyDaemon, Clock]:
    clock = clock or Clock()
    config = NotifyConfig.from_dict(data, base=tmp_path)
    reader = PamClient(cast.w3, cast.client.address)
    start = None if from_head else cast.deployment_block
    return assemble(reader, config, start_block=start, clock=clock), clock


@pytest.fixture
def world(
    cast: Cast, tmp_path: Path, pki: Pki, smtp: int, receiver: WebhookReceiver
) -> tuple[NotifyDaemon, Clock]:
    return build(cast, tmp_path, settings(tmp_path, pki, smtp, receiver.url))


def subjects(mailbox: Mailbox, address: str) -> list[str]:
    return [
        line.removeprefix("Subject: ")
        for message in mailbox.to(address)
        for line in message["content"].splitlines()
        if line.startswith("Subject: ")
    ]


def test_request_created__approvers_told__requester_not(
    cast: Cast, world: tuple[NotifyDaemon, Clock], mailbox: Mailbox
) -> None:
    daemon, _ = world
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 600, "incident 42")
    tick = daemon.run_once()
    assert (tick.queued, tick.sent) == (2, 2)
    for approver in ("bob", "carol"):
        (message,) = mailbox.to(EMAIL[approver])
        assert message["tls"] and message["authenticated"]
        assert f"Request {rid} awaits your decision" in message["content"]
        assert "Domain Admins" in message["content"] and key("alice") in message["content"]
        assert "incident 42" not in message["content"]  # only its hash is on chain, and it stays there
    assert mailbox.to(EMAIL["alice"]) == []


def test_request_by_an_approver__never_told_to_approve_it_themself(
    cast: Cast, world: tuple[NotifyDaemon, Clock], mailbox: Mailbox
) -> None:
    daemon, _ = world
    cast.as_(cast.bob).request_elevation(ADMINS, 600)
    daemon.run_once()
    assert len(mailbox.to(EMAIL["carol"])) == 1
    assert mailbox.to(EMAIL["bob"]) == []


def test_requester_told_of_approval_grant_and_receipt(
    cast: Cast, world: tuple[NotifyDaemon, Clock], mailbox: Mailbox
) -> None:
    daemon, _ = world
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 600)
    cast.as_(cast.bob).approve(rid)
    cast.as_(cast.carol).approve(rid)
    cast.as_(cast.oracle).post_receipt(rid, Action.ADD_MEMBER, Outcome.APPLIED, b"\x11" * 32, DC1)
    daemon.run_once()
    got = subjects(mailbox, EMAIL["alice"])
    assert f"[pamchain] Request {rid} approved" in got
    assert f"[pamchain] Request {rid}: access granted" in got
    assert f"[pamchain] Request {rid}: ADD_MEMBER APPLIED" in got
    assert len(got) == 3  # and no approval request for her own request


def test_request_denied__requester_told(
    cast: Cast, world: tuple[NotifyDaemon, Clock], mailbox: Mailbox
) -> None:
    daemon, _ = world
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 600)
    cast.as_(cast.bob).deny(rid, "not today")
    daemon.run_once()
    assert subjects(mailbox, EMAIL["alice"]) == [f"[pamchain] Request {rid} denied"]


def test_break_glass_and_drift_alarms__security_officers_told_by_mail_and_signed_webhook(
    cast: Cast, world: tuple[NotifyDaemon, Clock], mailbox: Mailbox, receiver: WebhookReceiver
) -> None:
    daemon, _ = world
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 600, break_glass=True)
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\x22" * 32, DC1, True)
    daemon.run_once()
    alarms = sorted(h.document["alarm"] for h in receiver.accepted())
    assert alarms == ["BREAK_GLASS", "DRIFT"]
    assert all(h.verified for h in receiver.hooks)
    assert len({h.idempotency_key for h in receiver.hooks}) == 2
    glass = next(h.document for h in receiver.accepted() if h.document["alarm"] == "BREAK_GLASS")
    assert glass["request_id"] == rid and glass["target"] == "Domain Admins" and glass["kind"] == "alarm"
    assert glass["subject"] == key("alice") and "dc" not in glass  # its detail is a justification hash
    drift = next(h.document for h in receiver.accepted() if h.document["alarm"] == "DRIFT")
    assert drift["subject"] == "0x" + "22" * 32 and drift["dc"] == "DC1" and "request_id" not in drift
    assert sorted(subjects(mailbox, SOC_EMAIL)) == [
        f"[pamchain] ALARM BREAK_GLASS (request {rid}, Domain Admins)",
        "[pamchain] ALARM DRIFT (Domain Admins, DC1)",
    ]


def test_restart__nothing_sent_twice(
    cast: Cast, tmp_path: Path, pki: Pki, smtp: int, receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    data = settings(tmp_path, pki, smtp, receiver.url)
    daemon, clock = build(cast, tmp_path, data)
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 600, break_glass=True)
    cast.as_(cast.bob).approve(rid)  # break-glass needs one other person; decided before the notifier looks
    assert daemon.run_once().sent == 4  # soc by mail and webhook; alice: approved, granted
    daemon.journal.close()
    again, _ = build(cast, tmp_path, data, clock)
    tick = again.run_once()
    assert (tick.queued, tick.sent) == (0, 0)
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\x33" * 32, DC1, False)
    assert again.run_once().sent == 2
    assert len(receiver.hooks) == 2 and len(mailbox.to(SOC_EMAIL)) == 2
    assert len(mailbox.to(EMAIL["alice"])) == 2


def test_restart__queued_but_unsent__delivered_once_after_restart(
    cast: Cast, tmp_path: Path, pki: Pki, smtp_port: int, receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    data = settings(tmp_path, pki, smtp_port, receiver.url)
    daemon, clock = build(cast, tmp_path, data)
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 600)
    tick = daemon.run_once()  # the SMTP server is not running yet
    assert (tick.queued, tick.sent) == (2, 0)
    daemon.journal.close()
    with smtp_server(pki, smtp_port, mailbox):
        again, _ = build(cast, tmp_path, data, clock)
        clock.advance(5)
        tick = again.run_once()
        assert (tick.queued, tick.sent) == (0, 2)
        assert again.run_once().sent == 0
    assert [len(mailbox.to(EMAIL[n])) for n in ("bob", "carol")] == [1, 1]
    assert str(rid) in mailbox.to(EMAIL["bob"])[0]["content"]


def test_smtp_down_then_up__delivered_once_and_webhooks_not_held_up(
    cast: Cast, tmp_path: Path, pki: Pki, smtp_port: int, receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    daemon, clock = build(cast, tmp_path, settings(tmp_path, pki, smtp_port, receiver.url))
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\x77" * 32, DC1, True)
    tick = daemon.run_once()
    assert (tick.sent, tick.deferred) == (1, 1)  # the webhook went, the mail waits
    assert len(receiver.accepted()) == 1
    event_id = receiver.accepted()[0].document["event_id"]
    state, attempts, error = daemon.journal.state_of(event_id, "soc", "email")
    assert (state, attempts) == (PENDING, 1) and error is not None and "unreachable" in error
    assert daemon.run_once().sent == 0  # not yet due
    with smtp_server(pki, smtp_port, mailbox):
        clock.advance(5)
        assert daemon.run_once().sent == 1
        clock.advance(5)
        assert daemon.run_once().sent == 0
    assert len(mailbox.to(SOC_EMAIL)) == 1 and len(receiver.hooks) == 1
    assert daemon.journal.state_of(event_id, "soc", "email")[0] == SENT


def test_webhook_500_then_200__retried_and_delivered_once(
    cast: Cast, world: tuple[NotifyDaemon, Clock], receiver: WebhookReceiver
) -> None:
    daemon, clock = world
    receiver.script = [500]
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\x44" * 32, DC1, True)
    tick = daemon.run_once()
    assert (tick.sent, tick.deferred) == (1, 1)  # the mail went, the webhook waits
    clock.advance(5)
    assert daemon.run_once().sent == 1
    clock.advance(5)
    assert daemon.run_once().sent == 0
    assert [h.status for h in receiver.hooks] == [500, 200]
    assert receiver.hooks[0].idempotency_key == receiver.hooks[1].idempotency_key  # the receiver can dedupe
    assert all(h.verified for h in receiver.hooks)


def test_webhook_wrong_secret__refused_by_receiver__failed_for_good_and_logged(
    cast: Cast,
    tmp_path: Path,
    pki: Pki,
    smtp: int,
    receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = settings(tmp_path, pki, smtp, receiver.url, webhook_secret=b"not-the-receivers-secret-at-all")
    daemon, clock = build(cast, tmp_path, data)
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\x55" * 32, DC1, True)
    with caplog.at_level(logging.INFO, logger="pamchain"):
        tick = daemon.run_once()
    assert (tick.sent, tick.failed) == (1, 1)
    (hook,) = receiver.hooks
    assert (hook.status, hook.verified) == (401, False)
    assert daemon.journal.state_of(hook.document["event_id"], "soc", "webhook")[:2] == (FAILED, 0)
    clock.advance(3600)
    assert daemon.run_once().sent == 0 and len(receiver.hooks) == 1  # a permanent failure is not retried
    failure = next(r for r in caplog.records if r.getMessage() == "notification failed for good")
    line = JsonFormatter().format(failure)
    assert "HTTP 401" in line
    for secret in (SECRET.decode(), "not-the-receivers-secret", SMTP_PASSWORD, SOC_EMAIL):
        assert all(secret not in JsonFormatter().format(r) for r in caplog.records)


def test_bad_address__refused_by_smtp_server__failed_for_good_others_sent(
    cast: Cast, world: tuple[NotifyDaemon, Clock], mailbox: Mailbox
) -> None:
    daemon, _ = world
    mailbox.refuse.add(EMAIL["bob"])
    cast.as_(cast.alice).request_elevation(ADMINS, 600)
    tick = daemon.run_once()
    assert (tick.sent, tick.failed) == (1, 1)
    assert len(mailbox.to(EMAIL["carol"])) == 1
    assert daemon.status()["failed_notifications"] == 1


def test_smtp_certificate_from_another_ca__not_sent_and_retried(
    cast: Cast, tmp_path: Path, pki: Pki, smtp: int, receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    stranger = make_pki(tmp_path / "other-ca")
    data = settings(tmp_path, pki, smtp, receiver.url)
    data["smtp"]["ca_file"] = str(stranger.ca_cert)
    daemon, _ = build(cast, tmp_path, data)
    cast.as_(cast.alice).request_elevation(ADMINS, 600)
    tick = daemon.run_once()
    assert (tick.sent, tick.deferred) == (0, 1)  # one attempt for the relay this round, the other skipped
    assert mailbox.messages == []


def test_unknown_recipient__not_queued_and_counted(
    cast: Cast, tmp_path: Path, pki: Pki, smtp: int, receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    data = settings(tmp_path, pki, smtp, receiver.url)
    del data["recipients"][key("carol")]
    daemon, _ = build(cast, tmp_path, data)
    cast.as_(cast.alice).request_elevation(ADMINS, 600)
    assert daemon.run_once().sent == 1
    assert daemon.status()["unroutable_notices"] == 1


def test_alarm_of_a_kind_this_sdk_does_not_know__still_sent_to_officers(cast: Cast) -> None:
    router = Router(
        PamClient(cast.w3, cast.client.address), officers=["soc"], targets={}, known_request=lambda _: None
    )
    at = LogPosition(7, "0x" + "ab" * 32, "0x" + "cd" * 32, 3)
    zero = b"\x00" * 32
    args = {"kind": 9, "domain": DOMAIN, "request_id": 0, "target": zero, "subject": zero, "detail": zero}
    (notice,) = router.notices(GenericEvent(at=at, event="Alarm", args=args))
    assert (notice.recipient, notice.kind, dict(notice.fields)) == (
        "soc",
        "alarm",
        {"alarm": "KIND_9", "alarm_kind": 9},
    )
    message = Notification(
        notification_id(notice.event_id, "soc", "email"),
        notice.event_id,
        "alarm",
        "soc",
        "email",
        notice.fields,
    )
    assert subject_line(message) == "[pamchain] ALARM KIND_9"


def test_health_endpoint_while_running(
    cast: Cast, tmp_path: Path, pki: Pki, smtp: int, receiver: WebhookReceiver
) -> None:
    import urllib.request

    data = settings(tmp_path, pki, smtp, receiver.url)
    port = free_port()
    data["notify"]["health_port"] = port
    daemon, _ = build(cast, tmp_path, data)
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\x66" * 32, DC1, True)
    thread = threading.Thread(target=daemon.run, kwargs={"health_port": port, "install_signals": False})
    thread.start()
    try:

        def snapshot() -> dict[str, Any] | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    state: dict[str, Any] = json.load(response)
            except OSError:
                return None
            return state if state["sent_notifications"] == 2 else None

        state = wait_until(snapshot, 60)
        assert state["healthy"] and state["failed_notifications"] == 0 and state["pending_notifications"] == 0
    finally:
        daemon.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_webhook_redirect__not_followed__failed_for_good(
    cast: Cast, world: tuple[NotifyDaemon, Clock], receiver: WebhookReceiver
) -> None:
    daemon, _ = world
    receiver.script = [302]
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\x88" * 32, DC1, True)
    tick = daemon.run_once()
    assert (tick.sent, tick.failed) == (1, 1)  # the mail went; the webhook is not re-sent anywhere
    (hook,) = receiver.hooks
    assert daemon.journal.state_of(hook.document["event_id"], "soc", "webhook") == (FAILED, 0, "HTTP 302")


def test_smtp_server_without_starttls__nothing_sent_in_clear(
    cast: Cast, tmp_path: Path, pki: Pki, smtp_port: int, receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    daemon, _ = build(cast, tmp_path, settings(tmp_path, pki, smtp_port, receiver.url))
    plain = Controller(mailbox, hostname="127.0.0.1", port=smtp_port, ready_timeout=30)  # offers no STARTTLS
    plain.start()
    try:
        cast.as_(cast.alice).request_elevation(ADMINS, 600)
        tick = daemon.run_once()
    finally:
        plain.stop()
    assert (tick.sent, tick.deferred) == (0, 1)
    assert mailbox.messages == []
    (event_id,) = {n.event_id for n in daemon.journal.due(float("inf"))}
    errors = {daemon.journal.state_of(event_id, key(n), "email")[2] for n in ("bob", "carol")}
    assert errors == {"server does not offer STARTTLS", None}  # one tried, the other waits for the next round


def test_transient_failures_beyond_max_attempts__given_up_and_recorded(
    cast: Cast, tmp_path: Path, pki: Pki, smtp: int, receiver: WebhookReceiver
) -> None:
    data = settings(tmp_path, pki, smtp, receiver.url)
    data["notify"]["max_attempts"] = 3
    daemon, clock = build(cast, tmp_path, data)
    receiver.script = [503, 503, 503, 200]
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\x99" * 32, DC1, True)
    daemon.run_once()
    for _ in range(3):
        clock.advance(5)
        daemon.run_once()
    assert [h.status for h in receiver.hooks] == [503, 503, 503]
    state, attempts, error = daemon.journal.state_of(receiver.hooks[0].document["event_id"], "soc", "webhook")
    assert (state, attempts, error) == (FAILED, 3, "gave up after 3 attempts: HTTP 503")


def test_crash_between_send_and_journal__resent_once_with_the_same_idempotency_key(
    cast: Cast,
    tmp_path: Path,
    pki: Pki,
    smtp: int,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = settings(tmp_path, pki, smtp, receiver.url)
    del data["recipients"]["soc"]["email"]
    daemon, clock = build(cast, tmp_path, data)
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\xaa" * 32, DC1, True)

    def crash(*args: object) -> None:
        raise SystemExit("killed after the send, before the journal write")

    monkeypatch.setattr(daemon.journal, "mark_sent", crash)
    with pytest.raises(SystemExit):
        daemon.run_once()
    monkeypatch.undo()
    daemon.journal.close()
    again, _ = build(cast, tmp_path, data, clock)
    assert again.run_once().sent == 1
    assert again.run_once().sent == 0
    first, second = receiver.hooks
    assert first.idempotency_key == second.idempotency_key and first.document == second.document


def test_smtp_relay_hanging__webhook_delivered_meanwhile(
    cast: Cast, tmp_path: Path, pki: Pki, receiver: WebhookReceiver
) -> None:
    """A relay that accepts the connection and never greets holds up its own mail, not the webhook."""
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(8)
    hang.settimeout(60)
    data = settings(tmp_path, pki, hang.getsockname()[1], receiver.url)
    data["smtp"]["timeout"] = 300
    daemon, _ = build(cast, tmp_path, data)
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\xbb" * 32, DC1, True)
    ticks: list[NotifyTick] = []
    worker = threading.Thread(target=lambda: ticks.append(daemon.run_once()))
    worker.start()
    try:
        wait_until(receiver.accepted, 60)
        assert worker.is_alive()  # the mail still waits for the relay's greeting
    finally:
        connection, _ = hang.accept()  # then the relay hangs up: a transient failure
        connection.close()
        hang.close()
        worker.join(60)
    (tick,) = ticks
    assert (tick.sent, tick.deferred) == (1, 1)


def test_final_block_changed__refuses_to_go_on(cast: Cast, world: tuple[NotifyDaemon, Clock]) -> None:
    daemon, clock = world
    daemon.run_once()
    number, _ = daemon.journal.checkpoint()
    daemon.journal.record([], [], number, "0x" + "00" * 32, clock())
    with pytest.raises(ChainReorganised):
        daemon.run_once()
    with pytest.raises(ChainReorganised):
        daemon.run(install_signals=False)


def test_late_removal_alarm__officers_told_with_grantee_target_and_dc(
    cast: Cast, world: tuple[NotifyDaemon, Clock], receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    daemon, _ = world
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 600)
    cast.as_(cast.bob).approve(rid)
    cast.as_(cast.carol).approve(rid)
    cast.as_(cast.alice).revoke(rid)
    cast.as_(cast.oracle).report_late_removal(rid, DC1)
    daemon.run_once()
    (late,) = [h.document for h in receiver.accepted()]
    assert (late["alarm"], late["request_id"], late["subject"], late["dc"]) == (
        "REMOVAL_LATE",
        rid,
        key("alice"),
        "DC1",
    )
    assert subjects(mailbox, SOC_EMAIL) == [
        f"[pamchain] ALARM REMOVAL_LATE (request {rid}, Domain Admins, DC1)"
    ]
    assert f"[pamchain] Request {rid}: access ended" in subjects(mailbox, EMAIL["alice"])


def test_node_unreachable__queued_notifications_still_delivered(
    cast: Cast, tmp_path: Path, pki: Pki, smtp_port: int, receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    daemon, clock = build(cast, tmp_path, settings(tmp_path, pki, smtp_port, receiver.url))
    cast.as_(cast.alice).request_elevation(ADMINS, 600)
    assert daemon.run_once().queued == 2  # the relay is down: both wait

    def node_down() -> int:
        raise requests.exceptions.ConnectionError("node gone")

    daemon.follower.poll = node_down
    with smtp_server(pki, smtp_port, mailbox):
        clock.advance(5)
        tick = daemon.run_once()
    assert (tick.chain_reachable, tick.sent) == (False, 2)
    assert daemon.status()["chain_reachable"] is False


def test_smtp_implicit_tls__delivered_over_tls(
    cast: Cast, tmp_path: Path, pki: Pki, smtp_port: int, receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    data = settings(tmp_path, pki, smtp_port, receiver.url)
    data["smtp"].update(tls="implicit")
    del data["smtp"]["username"], data["smtp"]["password_file"]
    daemon, _ = build(cast, tmp_path, data)
    server = Controller(
        mailbox, hostname="127.0.0.1", port=smtp_port, ssl_context=pki.server_context(), ready_timeout=30
    )
    server.start()
    try:
        cast.as_(cast.alice).request_elevation(ADMINS, 600)
        assert daemon.run_once().sent == 2
    finally:
        server.stop()
    assert [len(mailbox.to(EMAIL[n])) for n in ("bob", "carol")] == [1, 1]


def test_suspended_approver__not_asked_to_decide(
    cast: Cast, world: tuple[NotifyDaemon, Clock], mailbox: Mailbox
) -> None:
    daemon, _ = world
    cast.as_(cast.council[0]).suspend(directory_id("carol"))
    cast.as_(cast.alice).request_elevation(ADMINS, 600)
    daemon.run_once()
    assert len(mailbox.to(EMAIL["bob"])) == 1
    assert mailbox.to(EMAIL["carol"]) == []


def test_new_journal_from_head__history_not_paged__new_events_are(
    cast: Cast, tmp_path: Path, pki: Pki, smtp: int, receiver: WebhookReceiver, mailbox: Mailbox
) -> None:
    cast.as_(cast.oracle).report_drift(DOMAIN, ADMINS, b"\xcc" * 32, DC1, True)  # before the notifier existed
    daemon, _ = build(cast, tmp_path, settings(tmp_path, pki, smtp, receiver.url), from_head=True)
    assert daemon.run_once().queued == 0
    cast.as_(cast.alice).request_elevation(ADMINS, 600)
    assert daemon.run_once().sent == 2
    assert receiver.hooks == [] and mailbox.to(SOC_EMAIL) == []


def test_request_already_decided_when_followed__approvers_not_asked(
    cast: Cast, world: tuple[NotifyDaemon, Clock], mailbox: Mailbox
) -> None:
    daemon, _ = world
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 600)
    cast.as_(cast.bob).deny(rid)
    daemon.run_once()  # catching up: the request is already denied
    assert mailbox.to(EMAIL["bob"]) == [] and mailbox.to(EMAIL["carol"]) == []
    assert subjects(mailbox, EMAIL["alice"]) == [f"[pamchain] Request {rid} denied"]
