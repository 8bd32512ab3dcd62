"""Access reviews through the SDK on eth-tester: the deployment's PamReviews, a campaign opened by the council's
quorum, confirmations, a lapse that suspends (ending the principal's grant), and the notifier's review notices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pamchain.sdk import errors
from pamchain.sdk.chain.client import SUSPENDER_ROLE, Deployment, PamClient, TxResult
from pamchain.sdk.chain.events import (
    Alarm,
    CampaignClosed,
    CampaignOpened,
    GenericEvent,
    GrantEnded,
    ReviewItemConfirmed,
    ReviewItemLapsed,
)
from pamchain.sdk.chain.model import (
    AlarmKind,
    EndReason,
    ItemStatus,
    LapseAction,
    PrincipalStatus,
    Reviewer,
    ReviewScope,
    ticket_ref,
)
from pamchain.sdk.notify.routing import Router

from support.world import ADMINS, Cast, directory_id

ALICE, BOB, CAROL = directory_id("alice"), directory_id("bob"), directory_id("carol")
HOUR = 3600
REVIEW = HOUR // 2  # how long the campaigns here run: shorter than the grants they review


def now(cast: Cast) -> int:
    return int(cast.w3.eth.get_block("latest")["timestamp"])


def travel(cast: Cast, seconds: int) -> None:
    tester = cast.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    tester.time_travel(now(cast) + seconds)
    tester.mine_blocks(1)


def _proposal_id(result: TxResult) -> int:
    return next(
        int(e.args["proposal_id"])
        for e in result.events
        if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
    )


def _reviews_address(cast: Cast) -> str:
    assert cast.client.reviews_contract is not None
    return str(cast.client.reviews_contract.address)


def open_by_council(
    cast: Cast, scope: ReviewScope, subjects: list[bytes], reviewer: Reviewer, on_lapse: LapseAction
) -> int:
    """Open a campaign after bootstrap: one member proposes, a second approves and so executes it."""
    c1, c2 = cast.as_(cast.council[0]), cast.as_(cast.council[1])
    proposed = c1.open_campaign(
        scope, subjects, reviewer, on_lapse, now(cast) + REVIEW, ticket_ref("2027-Q1")
    )
    proposal_id = _proposal_id(proposed)
    opened = c2.approve_proposal(proposal_id).first(CampaignOpened)
    assert opened.scope is scope and opened.reviewer is reviewer and opened.on_lapse is on_lapse
    return int(opened.campaign_id)


def test_deployment__has_reviews_with_the_suspender_role(cast: Cast, tmp_path: Path) -> None:
    reviews = cast.client.reviews_contract
    assert reviews is not None
    assert cast.client.contract_for("open_campaign") == reviews
    pam = cast.client.contract_for("council")
    assert pam is not None and pam.address == cast.client.address  # PamChain wins a shared name
    assert bool(cast.client.contract.functions.has_role(reviews.address, SUSPENDER_ROLE).call())
    assert reviews.address in cast.client.addresses
    assert cast.client.campaign_count() == 0


def test_deployment_file__round_trip_and_old_files_still_load(cast: Cast, tmp_path: Path) -> None:
    client = cast.client
    deployment = Deployment(
        1,
        client.address,
        1,
        "abi",
        None,
        client.council_contract.address,
        None,
        _reviews_address(cast),
    )
    deployment.save(tmp_path / "d.json")
    assert Deployment.load(tmp_path / "d.json") == deployment
    document = json.loads((tmp_path / "d.json").read_text())
    del document["contracts"]["PamReviews"]
    (tmp_path / "old.json").write_text(json.dumps(document))
    old = Deployment.load(tmp_path / "old.json")
    assert old.reviews is None and old.address == deployment.address
    reader = PamClient(cast.w3, old.address, cast.alice, council=old.council)
    with pytest.raises(errors.SdkError, match="no PamReviews contract"):
        reader.campaign_count()
    with pytest.raises(errors.SdkError, match="PamReviews address unknown"):
        reader.transact("confirm", 1, 0)


def test_campaign__confirmed_keeps__lapsed_is_suspended_and_its_grant_ends(cast: Cast) -> None:
    alice, bob, carol = cast.as_(cast.alice), cast.as_(cast.bob), cast.as_(cast.carol)
    grant = alice.request_elevation(ADMINS, HOUR)  # the policy caps grants at an hour
    bob.approve(grant)
    carol.approve(grant)
    assert alice.is_active(grant)

    campaign_id = open_by_council(cast, ReviewScope.REQUESTERS, [ADMINS], Reviewer.SELF, LapseAction.SUSPEND)
    campaign = bob.campaign(campaign_id)
    assert (campaign.item_count, campaign.state(now(cast)), campaign.label.rstrip(b"\x00")) == (
        3,
        "open",
        b"2027-Q1",
    )
    assert [(i.principal, i.target, i.status) for i in bob.review_items(campaign_id)] == [
        (p, ADMINS, ItemStatus.PENDING) for p in (ALICE, BOB, CAROL)
    ]
    mine = bob.items_to_review(BOB)
    assert [(i.campaign_id, i.principal) for i in mine] == [(campaign_id, BOB)]
    confirmed = bob.confirm_review(campaign_id, mine[0].id).first(ReviewItemConfirmed)
    assert (confirmed.principal, confirmed.reviewer) == (BOB, BOB)
    assert bob.items_to_review(BOB) == []
    (carol_result,) = carol.confirm_reviews(campaign_id, [2])
    assert carol_result.first(ReviewItemConfirmed).reviewer == CAROL
    with pytest.raises(errors.ReviewsError, match="not reviewer"):
        bob.confirm_review(campaign_id, 0)  # alice's own item
    with pytest.raises(errors.ReviewsError, match="not due"):
        bob.close_campaign(campaign_id)

    travel(cast, REVIEW)
    assert bob.campaign(campaign_id).state(now(cast)) == "due"
    with pytest.raises(errors.ReviewsError, match="deadline passed"):
        alice.confirm_review(campaign_id, 0)
    results = cast.as_(cast.oracle).close_campaign(campaign_id)  # anyone allowed to send may close
    events = [e for r in results for e in r.events]
    lapsed = [e for e in events if isinstance(e, ReviewItemLapsed)]
    assert [(e.principal, e.suspended, e.on_lapse) for e in lapsed] == [(ALICE, True, LapseAction.SUSPEND)]
    (ended,) = [e for e in events if isinstance(e, GrantEnded)]
    assert (ended.request_id, ended.reason, ended.by) == (
        grant,
        EndReason.SUSPENDED,
        _reviews_address(cast),
    )
    closed = next(e for e in events if isinstance(e, CampaignClosed))
    assert (closed.confirmed, closed.lapsed, closed.cancelled) == (2, 1, False)
    assert bob.principal(ALICE).status is PrincipalStatus.SUSPENDED
    assert not bob.is_active(grant) and bob.active_grants(ALICE) == []
    assert bob.principal(BOB).status is PrincipalStatus.ACTIVE
    assert bob.campaign(campaign_id).state(now(cast)) == "closed"


def test_campaign__flag__alarm_decoded_and_nobody_suspended(cast: Cast) -> None:
    campaign_id = open_by_council(cast, ReviewScope.APPROVERS, [ADMINS], Reviewer.APPROVERS, LapseAction.FLAG)
    bob = cast.as_(cast.bob)
    (carol_item,) = bob.items_to_review(BOB)  # the approvers review each other
    assert carol_item.principal == CAROL
    travel(cast, REVIEW)
    result = bob.lapse_review(campaign_id, carol_item.id)
    alarm = result.first(Alarm)
    assert (alarm.kind, alarm.subject, alarm.target, alarm.request_id) == (
        AlarmKind.REVIEW_LAPSED,
        CAROL,
        ADMINS,
        campaign_id,
    )
    assert bob.principal(CAROL).status is PrincipalStatus.ACTIVE
    with pytest.raises(errors.ReviewsError, match="not pending"):
        bob.lapse_review(campaign_id, carol_item.id)


def test_open__bad_campaign__the_executing_approval_raises_a_reviews_error(cast: Cast) -> None:
    c1, c2 = cast.as_(cast.council[0]), cast.as_(cast.council[1])
    proposed = c1.open_campaign(
        ReviewScope.REQUESTERS, [b"\x01" * 32], Reviewer.SELF, LapseAction.FLAG, now(cast) + HOUR
    )
    proposal_id = _proposal_id(proposed)
    with pytest.raises(errors.ReviewsError, match="unknown policy"):
        c2.approve_proposal(proposal_id)


def test_notifier__campaign_opened__each_active_reviewer_told_once_with_a_count(cast: Cast) -> None:
    router = Router(
        cast.client, officers=["soc"], targets={ADMINS: "Domain Admins"}, known_request=lambda _: None
    )
    cast.as_(cast.council[0]).suspend(CAROL)  # a suspended reviewer is not asked
    campaign_id = open_by_council(
        cast, ReviewScope.REQUESTERS, [ADMINS], Reviewer.APPROVERS, LapseAction.SUSPEND
    )
    (opened,) = cast.client.events(names=["CampaignOpened"])
    assert isinstance(opened, CampaignOpened) and opened.campaign_id == campaign_id
    notices = router.notices(opened)
    # Items: alice, bob, carol (requesters of ADMINS); approvers bob and carol; bob reviews alice's and carol's
    # items (never his own), carol is suspended.
    assert [(n.recipient, n.kind, n.fields["items"]) for n in notices] == [
        ("0x" + BOB.hex(), "review_needed", 2)
    ]
    assert dict(notices[0].fields) == {
        "campaign_id": campaign_id,
        "label": "2027-Q1",
        "deadline": opened.deadline,
        "reviewer": "APPROVERS",
        "on_lapse": "SUSPEND",
        "items": 2,
    }
    travel(cast, REVIEW)
    assert router.notices(opened) == []  # followed after its deadline: too late to ask anyone
