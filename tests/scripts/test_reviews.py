"""Access reviews from the command line on a real node with the oracle on the in-memory directory: the council
opens a campaign by proposal, reviewers re-confirm, and the item nobody confirmed suspends its principal, whose
live grant ends and whose group membership the oracle removes."""

from __future__ import annotations

import time

from pamchain.sdk.chain.model import Action
from pamchain.sdk.directory import AccountRef, GroupRef

from .conftest import GROUP_DN, Live


def test_review__open_confirm_lapse__suspends_and_the_oracle_removes_the_membership(live: Live) -> None:
    # alice holds Domain Admins (approved by bob and carol); the oracle has added her.
    requested = live.cli("alice", "request", "elevate", GROUP_DN, "--duration", "600")
    assert requested.exit_code == 0, requested.output
    grant = int(requested.stdout.split()[1].rstrip(":"))
    for approver in ("bob", "carol"):
        assert live.cli(approver, "approve", str(grant)).exit_code == 0
    live.client().wait_for_receipt(grant, Action.ADD_MEMBER)
    assert live.directory.is_member(GroupRef(GROUP_DN), AccountRef("alice"))

    # The council opens a self-review of the group's requesters: one member proposes, a second executes.
    proposed = live.cli(
        "c1", "review", "open", "--requesters-of", GROUP_DN, "--duration", "10", "--label", "2027-Q1 admins"
    )
    assert proposed.exit_code == 0, proposed.output
    assert "proposed as council proposal #" in proposed.stdout
    proposal_id = proposed.stdout.split("#")[1].split()[0]
    assert live.json("c2", "council", "approve", proposal_id)["executed"] is True
    (campaign,) = [c for c in live.json(None, "review", "list") if c["label"] == "2027-Q1 admins"]
    campaign_id = str(campaign["id"])
    assert (campaign["state"], campaign["scope"], campaign["reviewer"], campaign["on_lapse"]) == (
        "open",
        "REQUESTERS",
        "SELF",
        "SUSPEND",
    )
    assert campaign["items"] == 3  # alice, bob and carol may request the group

    items = live.json(None, "review", "list", campaign_id)["items"]
    index = {i["principal"]: i["item_id"] for i in items}
    assert set(index) == {"0x" + live.ids[n].hex() for n in ("alice", "bob", "carol")}
    mine = live.json("bob", "review", "list", "--mine")
    assert [(i["campaign_id"], i["principal"]) for i in mine] == [
        (int(campaign_id), "0x" + live.ids["bob"].hex())
    ]
    assert live.cli("bob", "review", "confirm", campaign_id, "--all").exit_code == 0
    carol_item = str(index["0x" + live.ids["carol"].hex()])
    assert live.cli("carol", "review", "confirm", campaign_id, carol_item).exit_code == 0
    assert "nothing to review" in live.cli("carol", "review", "list", "--mine").stdout

    alice_item = str(index["0x" + live.ids["alice"].hex()])
    wrong = live.cli("bob", "review", "confirm", campaign_id, alice_item)
    assert wrong.exit_code == 1 and "reviews: not reviewer" in wrong.stderr
    twice = live.cli("carol", "review", "confirm", campaign_id, carol_item)
    assert twice.exit_code == 1 and "reviews: not pending" in twice.stderr
    early = live.cli("bob", "review", "close", campaign_id)
    assert early.exit_code == 1 and "reviews: not due" in early.stderr

    # alice never confirms. After the deadline anyone closes: she is suspended, her grant ends, AD follows.
    while time.time() < campaign["deadline"] + 1:
        time.sleep(0.5)
    late = live.cli("alice", "review", "confirm", campaign_id, alice_item)
    assert late.exit_code == 1 and "reviews: deadline passed" in late.stderr
    closed = live.json("bob", "review", "close", campaign_id)
    assert closed["closed"] is True
    assert [(d["principal"], d["suspended"]) for d in closed["lapsed"]] == [
        ("0x" + live.ids["alice"].hex(), True)
    ]
    assert live.json(None, "principal", "show", "0x" + live.ids["alice"].hex())["status"] == "SUSPENDED"
    ended = next(g for g in live.json(None, "grants") if g["request_id"] == grant)
    assert ended["state"] == "ended" and ended["end_reason"] == "SUSPENDED"
    live.client().wait_for_receipt(grant, Action.REMOVE_MEMBER)
    assert not live.directory.is_member(GroupRef(GROUP_DN), AccountRef("alice"))
    listed = live.json(None, "review", "list", campaign_id)
    assert (listed["state"], listed["confirmed"], listed["lapsed"]) == ("closed", 2, 1)
    assert [i["status"] for i in listed["items"] if i["item_id"] == int(alice_item)] == ["LAPSED"]

    # The council lifts the suspension (governed), so the session's other tests find alice as they expect.
    reinstate = live.json("c1", "council", "propose", "reinstate", "0x" + live.ids["alice"].hex())[
        "proposal_id"
    ]
    assert live.json("c2", "council", "approve", str(reinstate))["executed"] is True


def test_review__usage_errors(live: Live) -> None:
    none = live.cli("c1", "review", "open", "--duration", "60")
    assert none.exit_code == 2 and "give one scope" in none.stderr
    both = live.cli(
        "c1",
        "review",
        "open",
        "--principal",
        "0x" + live.ids["bob"].hex(),
        "--deadline",
        "1",
        "--duration",
        "5",
    )
    assert both.exit_code == 2 and "exactly one of --deadline and --duration" in both.stderr
    unknown = live.cli(
        "c1", "review", "open", "--requesters-of", "CN=Nobody,DC=corp,DC=example", "--duration", "60"
    )
    assert unknown.exit_code == 1 and "no policy for target" in unknown.stderr
    missing = live.cli(None, "review", "list", "999")
    assert missing.exit_code == 1 and "no campaign 999" in missing.stderr
