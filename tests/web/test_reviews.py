"""Access reviews on the phone, in Chromium at 360x740 against a real node and the oracle on the in-memory
directory: a reviewer sees what waits for them and confirms it; what is not confirmed in time suspends its
principal, whose grant ends and whose group membership the oracle removes."""

from __future__ import annotations

import time

from pamchain.sdk.chain.events import CampaignOpened
from pamchain.sdk.chain.model import (
    ItemStatus,
    LapseAction,
    PrincipalStatus,
    Reviewer,
    ReviewScope,
    Status,
    ticket_ref,
)
from pamchain.sdk.directory import GroupRef

from .conftest import GROUP_DN, Stack, directory_id, enrolled_phone, wait_for
from .test_phone import _sent_request_id, assert_labelled

REVIEW_SECONDS = 30  # long enough for a person (here, a browser) to confirm


def test_review__confirmed_on_the_phone__the_other_lapses_and_loses_its_grant(
    phone, approver, stack: Stack
) -> None:
    ivan, judy = enrolled_phone(phone, stack, "ivan"), enrolled_phone(phone, stack, "judy")

    # judy holds Domain Admins for ten minutes, approved on bob's phone; the oracle adds her.
    page = judy.page
    page.get_by_role("link", name="Elevation").click()
    page.get_by_label("Duration", exact=True).fill("10")
    page.get_by_role("button", name="Ask").click()
    grant = _sent_request_id(page, "elevate-status")
    approver.page.get_by_role("link", name="Approvals").click()
    approver.page.get_by_role("button", name=f"Approve request {grant}").click()
    wait_for(lambda: stack.client.status(grant) is Status.ACTIVE, what="grant active")
    wait_for(
        lambda: stack.directory.is_member(GroupRef(GROUP_DN), stack.users["judy"].ref), what="member added"
    )

    # The council (its bootstrapper here) asks ivan and judy to re-confirm their enrolment.
    deadline = int(stack.client.w3.eth.get_block("latest")["timestamp"]) + REVIEW_SECONDS
    people = [directory_id("ivan"), directory_id("judy")]
    opened = stack.client.open_campaign(
        ReviewScope.PRINCIPALS,
        people,
        Reviewer.SELF,
        LapseAction.SUSPEND,
        deadline,
        ticket_ref("2027-Q1 devices"),
    )
    campaign_id = opened.first(CampaignOpened).campaign_id

    p = ivan.page
    reviews_link = p.get_by_role("navigation").get_by_role("link", name="Reviews")
    wait_for(lambda: reviews_link.count() == 1 and "1" in reviews_link.inner_text(), what="reviews badge")
    wait_for(lambda: "Access review" in p.locator("#live").inner_text(), what="review announced")
    reviews_link.click()
    p.get_by_role("heading", name="Access reviews").wait_for()
    item = p.locator(f"#review-{campaign_id}-0")
    item.wait_for()
    text = item.inner_text()
    assert "2027-Q1 devices" in text and "You" in text and "Suspended: every grant ends" in text
    assert p.locator(f"#review-{campaign_id}-1").count() == 0  # judy's item is judy's to confirm
    assert_labelled(p)
    ivan.shot("11-review")
    p.get_by_role("button", name=f"Confirm item 0 of review {campaign_id}").click()
    item.wait_for(state="detached")
    wait_for(lambda: "Confirmed" in p.locator("#reviewed-list").inner_text(), what="shown as confirmed")
    assert "Nothing to review" in p.locator("#review-list").inner_text()
    assert stack.client.review_item(campaign_id, 0).status is ItemStatus.CONFIRMED

    # judy sees her item and lets it lapse; after the deadline anyone closes the campaign.
    judy.page.get_by_role("link", name="Reviews").click()
    judy.page.locator(f"#review-{campaign_id}-1").wait_for()
    while time.time() < deadline + 1:
        time.sleep(0.5)
    wait_for(lambda: judy.page.locator(f"#review-{campaign_id}-1").count() == 0, what="past the deadline")
    stack.client.close_campaign(campaign_id)
    assert stack.client.principal(directory_id("judy")).status is PrincipalStatus.SUSPENDED
    assert stack.client.principal(directory_id("ivan")).status is PrincipalStatus.ACTIVE
    assert stack.client.status(grant) is Status.ENDED
    wait_for(
        lambda: not stack.directory.is_member(GroupRef(GROUP_DN), stack.users["judy"].ref),
        what="membership removed by the oracle",
    )
    wait_for(
        lambda: "Not confirmed in time" in judy.page.locator("#reviewed-list").inner_text(),
        what="lapse shown",
    )
    judy.page.get_by_role("link", name="Unlock").click()
    mine = judy.page.locator(f"#request-{grant}")
    wait_for(
        lambda: "Removed from the group on DC1" in mine.inner_text(), what="removal receipt on the phone"
    )
