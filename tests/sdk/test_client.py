"""The typed client against the real bytecode on eth-tester: operations, decoded events, domain errors."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from pamchain.sdk import errors
from pamchain.sdk.chain.events import (
    ApprovalCast,
    GenericEvent,
    GrantActivated,
    GrantEnded,
    RequestApproved,
    RequestCreated,
)
from pamchain.sdk.chain.model import Action, EndReason, Kind, Outcome, Status, ticket_ref, ticket_text

from support.world import ADMINS, DOMAIN, Cast, directory_id


def test_unlock__self_service__approved_at_once_with_events(cast: Cast) -> None:
    alice = cast.as_(cast.alice)
    result = alice.transact("request_unlock")
    created = result.first(RequestCreated)
    approved = result.first(RequestApproved)
    assert (
        created.kind is Kind.UNLOCK and created.subject == directory_id("alice") and created.domain == DOMAIN
    )
    assert approved.request_id == created.request_id and approved.kind is Kind.UNLOCK
    assert alice.request(created.request_id).status is Status.APPROVED


def test_elevation__two_approvals__grant_active_then_revoked(cast: Cast) -> None:
    alice, bob, carol = cast.as_(cast.alice), cast.as_(cast.bob), cast.as_(cast.carol)
    rid = alice.request_elevation(ADMINS, 600, "patch Tuesday", ticket_ref("CHG-42"))
    request = alice.request(rid)
    assert request.status is Status.PENDING and ticket_text(request.ticket_ref) == "CHG-42"
    # salted: the text cannot be guessed from the chain
    assert request.justification_hash not in (keccak(text="patch Tuesday"), b"\x00" * 32)
    first = bob.approve(rid).first(ApprovalCast)
    assert (first.approvals, first.approvals_required) == (1, 2)
    activated = carol.approve(rid).first(GrantActivated)
    assert activated.expiry - activated.start == 600 and activated.target == ADMINS
    assert alice.is_active(rid) and alice.active_grants(directory_id("alice")) == [rid]
    ended = alice.revoke(rid).first(GrantEnded)
    assert ended.reason is EndReason.REVOKED and ended.by == cast.alice.address
    assert not alice.is_active(rid) and alice.status(rid) is Status.ENDED


def test_approve__self_approval__raises_requests_error(cast: Cast) -> None:
    bob = cast.as_(cast.bob)
    rid = bob.request_elevation(ADMINS, 60)
    with pytest.raises(errors.ContractRevert) as info:
        bob.approve(rid)
    assert "self" in info.value.reason and isinstance(
        info.value, errors.RequestsError | errors.ContractRevert
    )
    assert bob.request(rid).approvals == 0


def test_request__duration_above_cap__raises_domain_error(cast: Cast) -> None:
    with pytest.raises(errors.ContractRevert) as info:
        cast.as_(cast.alice).request_elevation(ADMINS, 10**6)
    assert info.value.module in {"requests", "policies"}


def test_post_receipt__by_oracle_once__and_by_stranger_refused(cast: Cast) -> None:
    alice, oracle = cast.as_(cast.alice), cast.as_(cast.oracle)
    rid = alice.request_unlock()
    with pytest.raises(errors.ContractRevert):
        alice.post_receipt(rid, Action.UNLOCK, Outcome.APPLIED, b"\x01" * 32, b"DC1".ljust(32, b"\x00"))
    oracle.post_receipt(rid, Action.UNLOCK, Outcome.APPLIED, b"\x01" * 32, b"DC1".ljust(32, b"\x00"))
    receipt = alice.receipt(rid, Action.UNLOCK)
    assert (
        receipt is not None and receipt.outcome is Outcome.APPLIED and receipt.oracle == cast.oracle.address
    )
    assert alice.status(rid) is Status.FULFILLED
    with pytest.raises(errors.ReceiptsError):
        oracle.post_receipt(rid, Action.UNLOCK, Outcome.APPLIED, b"\x01" * 32, b"DC1".ljust(32, b"\x00"))


def test_governance__after_bootstrap__needs_council_quorum(cast: Cast) -> None:
    assert not cast.client.bootstrapping()
    newcomer = "0x" + "11" * 20
    c1, c2 = cast.as_(cast.council[0]), cast.as_(cast.council[1])
    proposal = c1.enrol(newcomer, directory_id("dave"), DOMAIN)
    assert c1.principal(directory_id("dave")).device != newcomer.lower()  # not yet: one vote of two
    proposal_id = next(
        e.args["proposal_id"]
        for e in proposal.events
        if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
    )
    c2.approve_proposal(proposal_id)
    assert c1.principal_of(newcomer) == directory_id("dave")
    with pytest.raises(errors.ContractRevert):
        cast.as_(cast.deployer).transact("enrol", newcomer, directory_id("eve"), DOMAIN)


def test_sender__stale_nonce_from_another_process__resyncs(cast: Cast) -> None:
    first = cast.as_(cast.alice)
    second = cast.as_(cast.alice)  # same key, separate nonce counter: as a second process would have
    first.request_unlock()
    second.request_unlock()
    first.request_unlock()  # its counter is stale now; the node's answer repairs it
    assert first.request_count() == 3


def test_every_contract_revert_module_has_its_error_class() -> None:
    import re
    from pathlib import Path

    sources = (Path(__file__).resolve().parents[2] / "contracts" / "modules").glob("*.vy")
    modules = {m for path in sources for m in re.findall(r'"([a-z_]+): [^"]+"', path.read_text())}
    for module in modules:
        error = errors.revert_from_message(f"execution reverted: {module}: some reason")
        assert (
            type(error) is not errors.ContractRevert
            and error.module == module
            and error.reason == "some reason"
        )


def test_alarm_kind__unknown_to_this_sdk__kept_by_number() -> None:
    from pamchain.sdk.chain.model import AlarmKind

    newer = AlarmKind(9)  # raised by a newer contract
    assert int(newer) == 9 and newer.name == "KIND_9"
    assert AlarmKind(2) is AlarmKind.DRIFT
    with pytest.raises(ValueError):
        AlarmKind(-1)
