"""The CLI side of issue 16: approvers publish their keys and read a sealed justification; policies require a
justification and a ticket; group targets are keyed ids printed by `policy target-id`."""

from __future__ import annotations

from .conftest import GROUP_DN, GROUP_ID, Live, invoke

WHY = "Quarterly krbtgt rotation, see change record"


def test_justification__sealed_to_approvers__shown_to_them_only(live: Live) -> None:
    for approver in ("bob", "carol"):
        published = live.json(approver, "keys", "publish")
        assert published["device"] == live.accounts[approver].address
    rid = live.json(
        "alice",
        "request",
        "elevate",
        GROUP_DN,
        "--duration",
        "60",
        "--justification",
        WHY,
        "--ticket",
        "CHG-77",
    )["request_id"]
    for reader in ("bob", "carol", "alice"):
        shown = live.json(reader, "request", "show", str(rid))
        assert shown["justification"] == WHY and shown["ticket"] == "CHG-77"
    public = live.json(None, "request", "show", str(rid))  # no key: the hash only
    assert "justification" not in public and public["justification_hash"].startswith("0x")
    stranger = live.json("oracle", "request", "show", str(rid))  # a key, but no reader of this request
    assert stranger["justification"] is None and "403" in stranger["justification_error"]
    text = live.cli("bob", "request", "show", str(rid))
    assert text.exit_code == 0 and WHY in text.stdout
    live.cli("bob", "deny", str(rid))


def test_policy_require__ticket_needed__clear_refusal(live: Live) -> None:
    proposed = live.json("c1", "policy", "require", GROUP_DN, "--justification", "--ticket")
    assert live.json("c2", "council", "approve", str(proposed["proposal_id"]))["executed"] is True
    assert live.json(None, "policy", "show", GROUP_DN)["requirements"] == "justification, ticket"
    try:
        refused = live.cli(
            "alice", "request", "elevate", GROUP_DN, "--duration", "60", "--justification", WHY
        )
        assert refused.exit_code == 1 and "requests: ticket required" in refused.stderr
    finally:
        proposed = live.json("c1", "policy", "require", GROUP_DN)
        live.json("c2", "council", "approve", str(proposed["proposal_id"]))


def test_target_id__keyed_and_needs_the_key(live: Live) -> None:
    assert live.cli(None, "policy", "target-id", GROUP_DN).stdout.strip() == "0x" + GROUP_ID.hex()
    env = {k: v for k, v in live.env.items() if k != "PAMCHAIN_PSEUDONYM_KEY_FILE"}
    missing = invoke(["policy", "target-id", GROUP_DN], env={**env, "PAMCHAIN_PSEUDONYM_KEY_FILE": ""})
    assert missing.exit_code == 2 and "pseudonym" in missing.output
