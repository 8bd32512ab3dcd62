"""The README's stories through the command line against a real node and oracle: request, approve, grants,
receipts, password reset, governance proposals, and the audit export of all of it."""

from __future__ import annotations

import contextlib
import csv
import io
import json

from pamchain.sdk.chain.model import Action, Status
from pamchain.sdk.directory import AccountRef, AuthenticationFailed, GroupRef

from .conftest import GROUP_DN, Live


def test_deploy__wrote_the_deployment_and_ended_bootstrap(live: Live) -> None:
    data = json.loads(live.deployment_file.read_text())
    assert data["chain_id"] == 1337
    council = live.json(None, "council", "list")
    assert council["threshold"] == 2 and len(council["members"]) == 3
    assert council["bootstrapping"] is False
    policy = live.json(None, "policy", "show", "password-reset")
    assert policy["approvals_required"] == 1
    assert policy["approvers"] == ["0x" + live.ids["bob"].hex(), "0x" + live.ids["carol"].hex()]


def test_unlock__self_service_applied_with_receipt(live: Live) -> None:
    alice = AccountRef("alice")
    for _ in range(3):
        with contextlib.suppress(AuthenticationFailed):  # locking her out on purpose
            live.directory.authenticate(alice, "wrong-password")
    assert live.directory.is_locked(alice)
    out = live.json("alice", "request", "unlock", "--wait", "30")
    assert out["status"] == "FULFILLED"
    assert not live.directory.is_locked(alice)
    receipts = live.json(None, "receipts", "--request", str(out["request_id"]))
    assert [(r["action"], r["outcome"]) for r in receipts] == [("UNLOCK", "APPLIED")]


def test_elevation__request_approve_grants_revoke_receipts(live: Live) -> None:
    for approver in ("bob", "carol"):  # so that the justification can be sealed to them
        assert live.cli(approver, "keys", "publish").exit_code == 0
    result = live.cli(
        "alice",
        "request",
        "elevate",
        GROUP_DN,
        "--duration",
        "600",
        "--justification",
        "patch",
        "--ticket",
        "CHG-7",
    )
    assert result.exit_code == 0, result.output
    request_id = int(result.stdout.split()[1].rstrip(":"))
    assert "needs 2 approval(s)" in result.stdout

    first = live.cli("bob", "approve", str(request_id))
    assert first.exit_code == 0 and "now PENDING" in first.stdout
    second = live.cli("carol", "approve", str(request_id))
    assert second.exit_code == 0 and "now ACTIVE" in second.stdout

    shown = live.json(None, "request", "show", str(request_id))
    assert (
        shown["kind"] == "ELEVATE" and shown["ticket"] == "CHG-7" and shown["expiry"] - shown["start"] == 600
    )
    live.client().wait_for_receipt(request_id, Action.ADD_MEMBER)
    assert live.directory.is_member(GroupRef(GROUP_DN), AccountRef("alice"))
    active = live.json(None, "grants", "--active")
    assert [g["request_id"] for g in active] == [request_id]

    revoked = live.cli("bob", "revoke", str(request_id))
    assert revoked.exit_code == 0, revoked.output
    live.client().wait_for_receipt(request_id, Action.REMOVE_MEMBER)
    assert not live.directory.is_member(GroupRef(GROUP_DN), AccountRef("alice"))
    grant = next(g for g in live.json(None, "grants") if g["request_id"] == request_id)
    assert grant["state"] == "ended" and grant["end_reason"] == "REVOKED"
    actions = [r["action"] for r in live.json(None, "receipts", "--request", str(request_id))]
    assert actions == ["ADD_MEMBER", "REMOVE_MEMBER"]
    human = live.cli(None, "grants")
    assert f"{request_id}  ended" in human.stdout and "(REVOKED)" in human.stdout


def test_password_reset__sealed_payload_applied(live: Live) -> None:
    new_password = live.root / "new-password"
    new_password.write_text("Quiet-Orange-Lantern-27\n")
    result = live.cli("alice", "request", "password", "--new-password-file", str(new_password), "--json")
    assert result.exit_code == 0, result.output
    request_id = json.loads(result.stdout)["request_id"]
    assert live.cli("carol", "approve", str(request_id)).exit_code == 0
    live.client().wait_for_receipt(request_id, Action.RESET_PASSWORD)
    assert live.client().status(request_id) is Status.FULFILLED
    live.directory.authenticate(AccountRef("alice"), "Quiet-Orange-Lantern-27")


def test_password_reset__weak_password_refused_before_anything_is_sent(live: Live) -> None:
    weak = live.root / "weak"
    weak.write_text("Summer2024\n")
    before = live.client().request_count()
    result = live.cli("alice", "request", "password", "--new-password-file", str(weak))
    assert result.exit_code == 2
    assert "the new password is refused: shorter than 12 characters" in result.stderr
    assert "Summer2024" not in result.output  # never echoed
    assert live.client().request_count() == before


def test_decisions__clear_errors(live: Live) -> None:
    unknown = live.cli("bob", "approve", "999")
    assert unknown.exit_code == 1 and unknown.stderr.strip() == "error: no request 999"
    assert "Traceback" not in unknown.output
    rid = live.json("alice", "request", "elevate", GROUP_DN, "--duration", "60")["request_id"]
    own = live.cli("alice", "approve", str(rid))
    assert (
        own.exit_code == 1
        and own.stderr.startswith(
            "error: you cannot approve or deny your own request (requests: self-approval)"
        )
        and len(own.stderr.strip().splitlines()) == 1
    )
    denied = live.cli("bob", "deny", str(rid), "--reason", "not today")
    assert denied.exit_code == 0
    assert live.json(None, "request", "show", str(rid))["status"] == "DENIED"
    listed = live.json(None, "request", "list")
    assert rid in [r["id"] for r in listed]


def test_governance__enrol_becomes_a_proposal_then_runs_at_quorum(live: Live) -> None:
    from eth_account import Account

    device = Account.create().address
    new_id = "0x" + "ab" * 32
    proposed = live.cli("c1", "principal", "enrol", device, new_id, "--domain", "corp.example")
    assert proposed.exit_code == 0, proposed.output
    assert "proposed as council proposal #" in proposed.stdout
    proposal_id = proposed.stdout.split("#")[1].split()[0]
    missing = live.cli(None, "principal", "show", new_id)
    assert missing.exit_code == 1 and "no principal enrolled" in missing.stderr
    listed = live.json(None, "council", "list", "--open")
    assert [p["id"] for p in listed["proposals"]] == [int(proposal_id)]
    assert listed["proposals"][0]["call"].startswith("enrol(device=")
    approved = live.json("c2", "council", "approve", proposal_id)
    assert approved["executed"] is True
    shown = live.json(None, "principal", "show", device)
    assert shown["directory_id"] == new_id and shown["status"] == "ACTIVE"
    suspended = live.cli("c3", "principal", "suspend", new_id)  # one member may reduce privileges alone
    assert suspended.exit_code == 0, suspended.output
    assert live.json(None, "principal", "show", new_id)["status"] == "SUSPENDED"
    # Any governed function can be proposed by name, its arguments converted by their ABI types.
    proposal = live.json("c3", "council", "propose", "reinstate", new_id)["proposal_id"]
    assert live.json("c1", "council", "approve", str(proposal))["executed"] is True
    assert live.json(None, "principal", "show", new_id)["status"] == "ACTIVE"
    wrong = live.cli("c1", "council", "propose", "reinstate")
    assert wrong.exit_code == 2 and "reinstate takes 1 argument(s): directory_id: bytes32" in wrong.stderr


def test_policy__set_becomes_a_proposal_and_show_reads_it(live: Live) -> None:
    target = "CN=Backup Operators,CN=Builtin,DC=corp,DC=example"
    proposed = live.json(
        "c2",
        "policy",
        "set",
        target,
        "--domain",
        "corp.example",
        "--approver",
        "0x" + live.ids["carol"].hex(),
        "--approvals",
        "1",
        "--max-duration",
        "900",
    )
    assert live.json("c3", "council", "approve", str(proposed["proposal_id"]))["executed"] is True
    shown = live.json(None, "policy", "show", target)
    assert shown["max_duration"] == 900 and shown["approvers"] == ["0x" + live.ids["carol"].hex()]
    assert "corp.example" in live.cli(None, "policy", "show", target).stdout
    missing = live.cli(None, "policy", "show", "CN=Nobody,DC=corp,DC=example")
    assert missing.exit_code == 1 and missing.stderr.startswith("error: no policy for target 0x")


def test_policy_leavers__rule_proposed_executed_and_shown(live: Live) -> None:
    assert live.json(None, "policy", "leavers", "--domain", "corp.example")["auto_suspend"] is False
    proposed = live.json("c2", "policy", "leavers", "--domain", "corp.example", "--auto-suspend")
    assert live.json("c3", "council", "approve", str(proposed["proposal_id"]))["executed"] is True
    shown = live.cli(None, "policy", "leavers", "--domain", "corp.example")
    assert shown.exit_code == 0 and shown.stdout.strip() == "leaver rule for corp.example: auto-suspend"
    proposed = live.json("c2", "policy", "leavers", "--domain", "corp.example", "--report-only")
    assert live.json("c1", "council", "approve", str(proposed["proposal_id"]))["executed"] is True
    assert live.json(None, "policy", "leavers", "--domain", "corp.example")["auto_suspend"] is False


def test_audit_export__csv_has_every_kind_of_row(live: Live) -> None:
    out = live.root / "audit.csv"
    result = live.cli(None, "audit", "export", "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows and list(rows[0]) == [
        "block_number",
        "block_time",
        "timestamp",
        "tx_hash",
        "log_index",
        "category",
        "event",
        "request_id",
        "details",
    ]
    categories = {r["category"] for r in rows}
    assert {"request", "approval", "grant", "revocation", "receipt", "denial", "governance"} <= categories
    for row in rows:
        assert row["tx_hash"].startswith("0x") and len(row["tx_hash"]) == 66
        assert row["block_time"].endswith("Z") and int(row["block_number"]) >= 1
    revocation = next(r for r in rows if r["category"] == "revocation")
    assert "reason=REVOKED" in revocation["details"]
    as_json = json.loads(live.cli(None, "audit", "export", "--format", "json").stdout)
    assert len(as_json) == len(rows)


def test_audit_verify__ok_on_the_live_chain(live: Live) -> None:
    result = live.cli(None, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: ")


def test_free_gas__new_device_never_funded__enrolled_by_the_council__requests_from_the_cli(
    live: Live,
) -> None:
    from pamchain.sdk.chain.client import connect
    from pamchain.sdk.keys import create_keystore

    from .conftest import PASSPHRASE

    keystore, account = create_keystore(live.root / "keys" / "newcomer", PASSPHRASE, iterations=2**14)
    live.keystores["newcomer"] = keystore
    w3 = connect(live.url)
    assert w3.eth.gas_price == 0 and w3.eth.get_balance(account.address) == 0
    new_id = "0x" + "cd" * 32
    refused = live.cli("newcomer", "request", "unlock")  # not enrolled yet
    assert refused.exit_code == 1 and "not active principal" in refused.stderr
    proposed = live.cli("c1", "principal", "enrol", account.address, new_id, "--domain", "corp.example")
    assert proposed.exit_code == 0, proposed.output
    proposal_id = proposed.stdout.split("#")[1].split()[0]
    assert live.json("c2", "council", "approve", proposal_id)["executed"] is True

    out = live.json("newcomer", "request", "unlock")  # no funding step in between
    shown = live.json(None, "request", "show", str(out["request_id"]))
    assert shown["requester"].lower() == account.address.lower()
    assert w3.eth.get_balance(account.address) == 0
    for name in ("deployer", "c1", "c2", "oracle", "alice"):  # nobody in this world was ever funded
        assert w3.eth.get_balance(live.accounts[name].address) == 0
