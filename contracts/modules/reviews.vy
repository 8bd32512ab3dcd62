# pragma version ~=0.4.3
# Over 500 lines on purpose: a campaign's whole lifecycle (open, confirm, lapse, close, cancel) and its bounds.
"""
@title Reviews: access-review campaigns over a PamChain's principals and policies
@custom:contract-name reviews
@license Apache-2.0
@notice The council opens a campaign: a scope (a list of principals, the
        requester sets of some policies, or their approver sets) snapshotted
        into items, who reviews each item (the principal itself, or the
        policy's other approvers), a deadline, and what happens to an item
        nobody re-confirmed in time: SUSPEND (the principal is suspended in
        PamChain, which ends every live grant) or FLAG (an Alarm for the
        security officers). Reviewers confirm items one transaction each;
        from the deadline on, anyone lapses what is still pending, per item
        or in bounded batches (`close`).
@dev Reads PamChain through an interface and suspends through it: the
     contract needs Role.SUSPENDER there (granted by governance), a power
     that only ever reduces privilege.
"""

from . import alarms
from . import governance

uses: governance


interface PamChain:
    def principal(directory_id: bytes32) -> PrincipalView: view
    def principal_of(device: address) -> bytes32: view
    def policy(target: bytes32) -> PolicyView: view
    def policy_approvers(target: bytes32) -> DynArray[bytes32, MAX_SET]: view
    def policy_requesters(target: bytes32) -> DynArray[bytes32, MAX_SET]: view
    def is_approver(target: bytes32, directory_id: bytes32) -> bool: view
    def suspend(directory_id: bytes32): nonpayable


# Scope: a list of principals (one item each, target zero).
SCOPE_PRINCIPALS: public(constant(uint8)) = 1
# Scope: every eligible requester of each listed policy (one item per requester and target).
SCOPE_REQUESTERS: public(constant(uint8)) = 2
# Scope: every approver of each listed policy (one item per approver and target).
SCOPE_APPROVERS: public(constant(uint8)) = 3
# Reviewer: the item's principal attests for itself.
REVIEWER_SELF: public(constant(uint8)) = 1
# Reviewer: any current approver of the item's policy other than the principal.
REVIEWER_APPROVERS: public(constant(uint8)) = 2
# On lapse: suspend the principal (ending every live grant).
LAPSE_SUSPEND: public(constant(uint8)) = 1
# On lapse: raise Alarm(REVIEW_LAPSED) for the security officers.
LAPSE_FLAG: public(constant(uint8)) = 2
# Item status: waiting for its reviewer.
ITEM_PENDING: public(constant(uint8)) = 1
# Item status: re-confirmed in time.
ITEM_CONFIRMED: public(constant(uint8)) = 2
# Item status: not re-confirmed by the deadline; its lapse effect was applied.
ITEM_LAPSED: public(constant(uint8)) = 3
# Most principals a SCOPE_PRINCIPALS campaign lists (its proposal stays under the council's 2,048 bytes).
MAX_PRINCIPALS: constant(uint256) = 48
# Most policies a requester or approver campaign covers.
MAX_TARGETS: constant(uint256) = 8
# A policy's approver or requester set bound (policies.MAX_APPROVERS = MAX_REQUESTERS).
MAX_SET: constant(uint256) = 16
# Most items of a campaign (MAX_TARGETS * MAX_SET >= MAX_PRINCIPALS); also the bound of `close`'s walk.
MAX_ITEMS: constant(uint256) = 128
# Most items one `close` call lapses: a suspension ends up to 16 grants, so a batch stays far below a block.
MAX_LAPSES_PER_CLOSE: constant(uint256) = 16
# Longest a campaign may run, in seconds.
MAX_REVIEW_PERIOD: constant(uint256) = 366 * 86400
# PamChain's principal status ACTIVE (principals.PRINCIPAL_ACTIVE).
PRINCIPAL_ACTIVE: constant(uint8) = 1


# PamChain.principal's return value.
struct PrincipalView:
    device: address
    domain: bytes32
    status: uint8


# PamChain.policy's return value.
struct PolicyView:
    domain: bytes32
    approvals_required: uint256
    max_duration: uint256
    max_pending: uint256
    self_service: bool
    enabled: bool
    break_glass_approvals: uint256
    break_glass_max_duration: uint256
    break_glass_cooldown: uint256
    unlock_limit: uint256
    unlock_window: uint256


# One campaign; `deadline` is zero for an id never used.
struct Campaign:
    scope: uint8
    reviewer: uint8
    on_lapse: uint8
    label: bytes32
    opened: uint256
    deadline: uint256
    item_count: uint256
    confirmed: uint256
    lapsed: uint256
    cursor: uint256
    closed: bool


# One item: a principal's access (to `target`, zero for a principal-only item) to re-confirm.
struct Item:
    principal: bytes32
    target: bytes32
    status: uint8
    by: bytes32
    at: uint256


# The PamChain whose principals and policies are reviewed.
pam: public(PamChain)
# Campaigns opened so far (ids run from 1).
campaign_count: public(uint256)
# Campaign id -> campaign.
_campaigns: HashMap[uint256, Campaign]
# Campaign id -> item id (0-based) -> item.
_items: HashMap[uint256, HashMap[uint256, Item]]
# Campaign id -> principal -> target -> item id + 1 (0: no such item).
_item_index: HashMap[uint256, HashMap[bytes32, HashMap[bytes32, uint256]]]


event CampaignOpened:
    campaign_id: indexed(uint256)
    scope: uint8
    reviewer: uint8
    on_lapse: uint8
    label: bytes32
    deadline: uint256
    item_count: uint256
    subjects: DynArray[bytes32, MAX_PRINCIPALS]

event ReviewItemOpened:
    campaign_id: indexed(uint256)
    principal: indexed(bytes32)
    target: indexed(bytes32)
    item_id: uint256
    reviewer: uint8
    deadline: uint256

event ReviewItemConfirmed:
    campaign_id: indexed(uint256)
    principal: indexed(bytes32)
    target: indexed(bytes32)
    item_id: uint256
    reviewer: bytes32

event ReviewItemLapsed:
    campaign_id: indexed(uint256)
    principal: indexed(bytes32)
    target: indexed(bytes32)
    item_id: uint256
    on_lapse: uint8
    suspended: bool

event CampaignClosed:
    campaign_id: indexed(uint256)
    confirmed: uint256
    lapsed: uint256
    cancelled: bool


@deploy
def __init__(pam: address):
    """
    @dev Binds the campaigns to the PamChain they review.
    @param pam The PamChain contract.
    """
    assert pam.is_contract, "reviews: pam not a contract"
    self.pam = PamChain(pam)


@external
@view
def campaign(campaign_id: uint256) -> Campaign:
    """
    @notice A campaign's definition and counters.
    @param campaign_id The campaign.
    @return (scope, reviewer, on_lapse, label, opened, deadline, item_count,
            confirmed, lapsed, cursor, closed); all zero if never opened.
    """
    return self._campaigns[campaign_id]


@external
@view
def item(campaign_id: uint256, item_id: uint256) -> Item:
    """
    @notice One item of a campaign.
    @param campaign_id The campaign.
    @param item_id The item (0-based, below `campaign(id).item_count`).
    @return (principal, target, status, by, at): `by` the confirming
            reviewer's directory id, `at` when it was confirmed or lapsed.
    """
    return self._items[campaign_id][item_id]


@external
@view
def item_of(campaign_id: uint256, principal: bytes32, target: bytes32) -> uint256:
    """
    @notice The item of `principal` (and `target`) in a campaign.
    @param campaign_id The campaign.
    @param principal The reviewed principal.
    @param target The policy target; zero in a SCOPE_PRINCIPALS campaign.
    @return The item id + 1; zero when the campaign has no such item.
    """
    return self._item_index[campaign_id][principal][target]


@external
@view
def is_reviewer(campaign_id: uint256, item_id: uint256, directory_id: bytes32) -> bool:
    """
    @notice Whether `directory_id` may confirm the item now (the item
            pending and the deadline not reached aside).
    @param campaign_id The campaign.
    @param item_id The item.
    @param directory_id The would-be reviewer.
    @return True if it is the item's reviewer and an ACTIVE principal.
    """
    if (staticcall self.pam.principal(directory_id)).status != PRINCIPAL_ACTIVE:
        return False
    return self._reviews(self._campaigns[campaign_id].reviewer, self._items[campaign_id][item_id], directory_id)


@external
def open_campaign(
    scope: uint8,
    subjects: DynArray[bytes32, MAX_PRINCIPALS],
    reviewer: uint8,
    on_lapse: uint8,
    deadline: uint256,
    label: bytes32,
) -> uint256:
    """
    @notice Opens a review campaign, its items snapshotted now.
    @dev Governed. Logs CampaignOpened, then ReviewItemOpened per item.
         The requester and approver sets are read from PamChain at this
         block; a policy changed later does not change the items.
    @param scope SCOPE_PRINCIPALS, SCOPE_REQUESTERS or SCOPE_APPROVERS.
    @param subjects Enrolled principals (SCOPE_PRINCIPALS), or policy
           targets (at most MAX_TARGETS) for the two others; no duplicates.
    @param reviewer REVIEWER_SELF, or REVIEWER_APPROVERS (policy scopes
           only: a principal list has no policy whose approvers review).
    @param on_lapse LAPSE_SUSPEND or LAPSE_FLAG.
    @param deadline When confirming ends and lapsing may start; after now
           and at most MAX_REVIEW_PERIOD ahead.
    @param label A short public name (e.g. ASCII "2027-Q1 admins"); no
           personal data.
    @return The new campaign's id.
    """
    governance._enforce_governance()
    assert scope >= SCOPE_PRINCIPALS and scope <= SCOPE_APPROVERS, "reviews: bad scope"
    assert reviewer == REVIEWER_SELF or (
        reviewer == REVIEWER_APPROVERS and scope != SCOPE_PRINCIPALS
    ), "reviews: bad reviewer"
    assert on_lapse == LAPSE_SUSPEND or on_lapse == LAPSE_FLAG, "reviews: bad lapse action"
    assert deadline > block.timestamp and deadline <= block.timestamp + MAX_REVIEW_PERIOD, "reviews: bad deadline"
    # Ids are sequential, far below 2**256.
    campaign_id: uint256 = unsafe_add(self.campaign_count, 1)
    self.campaign_count = campaign_id
    count: uint256 = 0
    if scope == SCOPE_PRINCIPALS:
        for principal: bytes32 in subjects:
            assert (staticcall self.pam.principal(principal)).status != 0, "reviews: unknown principal"
            count = self._add_item(campaign_id, count, principal, empty(bytes32), reviewer, deadline)
    else:
        assert len(subjects) <= MAX_TARGETS, "reviews: too many targets"
        seen: DynArray[bytes32, MAX_TARGETS] = []
        for target: bytes32 in subjects:
            assert target not in seen, "reviews: duplicate"
            seen.append(target)
            assert (staticcall self.pam.policy(target)).domain != empty(bytes32), "reviews: unknown policy"
            members: DynArray[bytes32, MAX_SET] = []
            if scope == SCOPE_REQUESTERS:
                members = staticcall self.pam.policy_requesters(target)
            else:
                members = staticcall self.pam.policy_approvers(target)
            for principal: bytes32 in members:
                count = self._add_item(campaign_id, count, principal, target, reviewer, deadline)
    assert count != 0, "reviews: empty campaign"
    self._campaigns[campaign_id] = Campaign(
        scope=scope,
        reviewer=reviewer,
        on_lapse=on_lapse,
        label=label,
        opened=block.timestamp,
        deadline=deadline,
        item_count=count,
        confirmed=0,
        lapsed=0,
        cursor=0,
        closed=False,
    )
    log CampaignOpened(
        campaign_id=campaign_id,
        scope=scope,
        reviewer=reviewer,
        on_lapse=on_lapse,
        label=label,
        deadline=deadline,
        item_count=count,
        subjects=subjects,
    )
    return campaign_id


@external
def confirm(campaign_id: uint256, item_id: uint256):
    """
    @notice Re-confirms a pending item before the campaign's deadline.
    @dev The caller's device must belong to an ACTIVE principal who is
         the item's reviewer: the principal itself (REVIEWER_SELF), or a
         current approver of the item's policy other than the principal
         (REVIEWER_APPROVERS). Logs ReviewItemConfirmed.
    @param campaign_id The campaign.
    @param item_id The item.
    """
    campaign: Campaign = self._open_campaign(campaign_id, item_id)
    assert self._items[campaign_id][item_id].status == ITEM_PENDING, "reviews: not pending"
    assert block.timestamp < campaign.deadline, "reviews: deadline passed"
    reviewer: bytes32 = staticcall self.pam.principal_of(msg.sender)
    assert reviewer != empty(bytes32), "reviews: not active principal"
    assert (staticcall self.pam.principal(reviewer)).status == PRINCIPAL_ACTIVE, "reviews: not active principal"
    item: Item = self._items[campaign_id][item_id]
    if campaign.reviewer == REVIEWER_APPROVERS:
        assert reviewer != item.principal, "reviews: self-review"
    assert self._reviews(campaign.reviewer, item, reviewer), "reviews: not reviewer"
    self._items[campaign_id][item_id].status = ITEM_CONFIRMED
    self._items[campaign_id][item_id].by = reviewer
    self._items[campaign_id][item_id].at = block.timestamp
    # At most MAX_ITEMS per campaign.
    self._campaigns[campaign_id].confirmed = unsafe_add(campaign.confirmed, 1)
    log ReviewItemConfirmed(
        campaign_id=campaign_id, principal=item.principal, target=item.target, item_id=item_id, reviewer=reviewer
    )


@external
def lapse(campaign_id: uint256, item_id: uint256):
    """
    @notice Applies the campaign's lapse action to one item still pending
            at or after the deadline.
    @dev Anyone. Logs ReviewItemLapsed, and Alarm(REVIEW_LAPSED) under
         FLAG; under SUSPEND an ACTIVE principal is suspended in PamChain
         (PrincipalSuspended and GrantEnded there, `by` this contract).
    @param campaign_id The campaign.
    @param item_id The item.
    """
    campaign: Campaign = self._open_campaign(campaign_id, item_id)
    assert block.timestamp >= campaign.deadline, "reviews: not due"
    assert self._items[campaign_id][item_id].status == ITEM_PENDING, "reviews: not pending"
    self._lapse(campaign_id, item_id, campaign.on_lapse)
    # At most MAX_ITEMS per campaign.
    self._campaigns[campaign_id].lapsed = unsafe_add(campaign.lapsed, 1)


@external
def close(campaign_id: uint256) -> bool:
    """
    @notice Lapses the campaign's pending items from its cursor on, at
            most MAX_LAPSES_PER_CLOSE per call; the call that reaches the
            last item closes the campaign.
    @dev Anyone, at or after the deadline. Call again while it returns
         False. Logs what `lapse` logs per item, and CampaignClosed.
    @param campaign_id The campaign.
    @return True once the campaign is closed.
    """
    campaign: Campaign = self._campaigns[campaign_id]
    assert campaign.deadline != 0, "reviews: unknown campaign"
    assert not campaign.closed, "reviews: closed"
    assert block.timestamp >= campaign.deadline, "reviews: not due"
    cursor: uint256 = campaign.cursor
    lapsed: uint256 = 0
    for i: uint256 in range(MAX_ITEMS):
        if cursor >= campaign.item_count or lapsed == MAX_LAPSES_PER_CLOSE:
            break
        if self._items[campaign_id][cursor].status == ITEM_PENDING:
            self._lapse(campaign_id, cursor, campaign.on_lapse)
            # Both at most MAX_ITEMS.
            lapsed = unsafe_add(lapsed, 1)
        cursor = unsafe_add(cursor, 1)
    self._campaigns[campaign_id].cursor = cursor
    # At most MAX_ITEMS per campaign.
    total: uint256 = unsafe_add(campaign.lapsed, lapsed)
    self._campaigns[campaign_id].lapsed = total
    if cursor < campaign.item_count:
        return False
    self._campaigns[campaign_id].closed = True
    log CampaignClosed(campaign_id=campaign_id, confirmed=campaign.confirmed, lapsed=total, cancelled=False)
    return True


@external
def cancel_campaign(campaign_id: uint256):
    """
    @notice Ends a campaign without applying anything to its pending items
            (opened by mistake, or superseded).
    @dev Governed. Logs CampaignClosed(cancelled=True).
    @param campaign_id The campaign.
    """
    governance._enforce_governance()
    campaign: Campaign = self._campaigns[campaign_id]
    assert campaign.deadline != 0, "reviews: unknown campaign"
    assert not campaign.closed, "reviews: closed"
    self._campaigns[campaign_id].closed = True
    log CampaignClosed(campaign_id=campaign_id, confirmed=campaign.confirmed, lapsed=campaign.lapsed, cancelled=True)


@internal
def _add_item(
    campaign_id: uint256, count: uint256, principal: bytes32, target: bytes32, reviewer: uint8, deadline: uint256
) -> uint256:
    """
    @dev Stores item number `count` and logs it.
    @param campaign_id The campaign.
    @param count Items stored so far (the new item's id).
    @param principal The reviewed principal.
    @param target The policy target (zero for a principal-only item).
    @param reviewer The campaign's reviewer mode.
    @param deadline The campaign's deadline.
    @return The new count.
    """
    assert principal != empty(bytes32), "reviews: zero principal"
    assert self._item_index[campaign_id][principal][target] == 0, "reviews: duplicate"
    self._items[campaign_id][count] = Item(
        principal=principal, target=target, status=ITEM_PENDING, by=empty(bytes32), at=0
    )
    # At most MAX_ITEMS (MAX_PRINCIPALS, or MAX_TARGETS * MAX_SET).
    after: uint256 = unsafe_add(count, 1)
    self._item_index[campaign_id][principal][target] = after
    log ReviewItemOpened(
        campaign_id=campaign_id, principal=principal, target=target, item_id=count, reviewer=reviewer, deadline=deadline
    )
    return after


@internal
def _lapse(campaign_id: uint256, item_id: uint256, on_lapse: uint8):
    """
    @dev Marks a pending item LAPSED and applies `on_lapse`; the caller
         counts it.
    @param campaign_id The campaign.
    @param item_id The item.
    @param on_lapse LAPSE_SUSPEND or LAPSE_FLAG.
    """
    item: Item = self._items[campaign_id][item_id]
    self._items[campaign_id][item_id].status = ITEM_LAPSED
    self._items[campaign_id][item_id].at = block.timestamp
    principal: PrincipalView = staticcall self.pam.principal(item.principal)
    suspended: bool = False
    if on_lapse == LAPSE_SUSPEND:
        # Already suspended (by this campaign's other item, or by anyone): nothing more to take away.
        if principal.status == PRINCIPAL_ACTIVE:
            extcall self.pam.suspend(item.principal)
            suspended = True
    else:
        log alarms.Alarm(
            kind=alarms.ALARM_REVIEW_LAPSED,
            domain=principal.domain,
            request_id=campaign_id,
            target=item.target,
            subject=item.principal,
            detail=convert(item_id, bytes32),
        )
    log ReviewItemLapsed(
        campaign_id=campaign_id,
        principal=item.principal,
        target=item.target,
        item_id=item_id,
        on_lapse=on_lapse,
        suspended=suspended,
    )


@internal
@view
def _open_campaign(campaign_id: uint256, item_id: uint256) -> Campaign:
    """
    @dev The campaign, reverting unless it exists, is not closed and has
         item `item_id`.
    @param campaign_id The campaign.
    @param item_id The item.
    @return The campaign.
    """
    campaign: Campaign = self._campaigns[campaign_id]
    assert campaign.deadline != 0, "reviews: unknown campaign"
    assert not campaign.closed, "reviews: closed"
    assert item_id < campaign.item_count, "reviews: unknown item"
    return campaign


@internal
@view
def _reviews(reviewer: uint8, item: Item, directory_id: bytes32) -> bool:
    """
    @dev Whether `directory_id` is the reviewer of `item` under `reviewer`.
    @param reviewer The campaign's reviewer mode.
    @param item The item.
    @param directory_id The would-be reviewer.
    @return True for the principal itself (SELF), or for a current
            approver of the item's policy other than the principal.
    """
    if item.principal == empty(bytes32):
        return False
    if reviewer == REVIEWER_SELF:
        return directory_id == item.principal
    return directory_id != item.principal and staticcall self.pam.is_approver(item.target, directory_id)
