# pragma version ~=0.4.3
"""
@title Council: k-of-n governance with proposals and a one-way bootstrap
@custom:contract-name council
@license Apache-2.0
@notice Every governed change (roles, oracles, principals, policies, the
        node allowlist, the council itself) goes through a proposal that
        `threshold` council members approve; the approval that reaches the
        threshold executes the proposal's calldata against its target (this
        contract, or a contract it governs) at once. The deployer may
        call governed functions directly only until `end_bootstrap()` (by
        the deployer or an executed proposal) or the bootstrap deadline set
        at deployment, whichever comes first.
@dev Governed contracts accept calls from this contract (an executed
     proposal) and, while `bootstrapping()`, from `bootstrapper()`; see
     governance.vy.
"""


# Upper bound on the council size; also the bound of every member loop.
MAX_COUNCIL: constant(uint256) = 16
# Largest calldata a proposal may carry (set_policy with 16 approvers fits).
MAX_PROPOSAL_DATA: constant(uint256) = 2048
# Revert data bubbled from a failing proposal call; revert strings are short.
MAX_REVERT_DATA: constant(uint256) = 256
# Longest bootstrap window a deployment may open (30 days): the deployer's
# single key must never govern indefinitely.
MAX_BOOTSTRAP_TTL: constant(uint256) = 30 * 86400


# A pending, executed or cancelled governance proposal.
struct Proposal:
    proposer: address
    target: address
    data: Bytes[MAX_PROPOSAL_DATA]
    created: uint256
    expires: uint256
    approvals: uint256
    executed: bool
    cancelled: bool


# Deployer; may call governed functions directly while `bootstrapping()`.
bootstrapper: public(address)
# End of the bootstrap window: set at deployment, moved to the present by
# `end_bootstrap()`; bootstrap power exists only before it, never again.
bootstrap_deadline: public(uint256)
# k: approvals of current members needed to execute a proposal.
council_threshold: public(uint256)
# Seconds a proposal stays approvable after its creation.
proposal_ttl: public(uint256)
# Id of the latest proposal; ids start at 1, 0 means none.
proposal_count: public(uint256)
# Current council members, in insertion order (removal swaps the last in).
_members: DynArray[address, MAX_COUNCIL]
# Membership index of `_members`.
is_council: public(HashMap[address, bool])
# Member -> its seat: a fresh number each time it joins, 0 when not a member.
_seat_of: HashMap[address, uint256]
# Last seat number handed out.
_seat_count: uint256
# Proposal id -> proposal.
_proposals: HashMap[uint256, Proposal]
# Proposal id -> member -> seat it approved under; counts only while it is
# still the member's seat (removal, and removal then re-adding, void it).
_approval_seat: HashMap[uint256, HashMap[address, uint256]]


event ProposalCreated:
    proposal_id: indexed(uint256)
    proposer: indexed(address)
    target: indexed(address)
    expires: uint256
    data: Bytes[MAX_PROPOSAL_DATA]

event ProposalApproved:
    proposal_id: indexed(uint256)
    member: indexed(address)
    approvals: uint256
    threshold: uint256

event ProposalExecuted:
    proposal_id: indexed(uint256)
    executor: indexed(address)

event ProposalCancelled:
    proposal_id: indexed(uint256)
    proposer: indexed(address)

event BootstrapEnded:
    bootstrapper: indexed(address)

event CouncilMemberAdded:
    member: indexed(address)

event CouncilMemberRemoved:
    member: indexed(address)

event ThresholdSet:
    threshold: uint256


@deploy
def __init__(
    members: DynArray[address, MAX_COUNCIL], threshold: uint256, proposal_ttl: uint256, bootstrap_ttl: uint256
):
    """
    @dev Seeds the council and opens the bootstrap window for `msg.sender`.
    @param members The initial council; no zero address, no duplicates.
    @param threshold The initial k; 2 <= k <= len(members).
    @param proposal_ttl Seconds a proposal stays approvable; nonzero.
    @param bootstrap_ttl Seconds the bootstrap window stays open at most;
           1..MAX_BOOTSTRAP_TTL.
    """
    assert proposal_ttl != 0, "council: zero ttl"
    assert bootstrap_ttl != 0 and bootstrap_ttl <= MAX_BOOTSTRAP_TTL, "council: bad bootstrap ttl"
    for member: address in members:
        self._add_member(member)
    self._set_threshold(threshold)
    self.proposal_ttl = proposal_ttl
    self.bootstrapper = msg.sender
    self.bootstrap_deadline = block.timestamp + bootstrap_ttl


@external
@view
def bootstrapping() -> bool:
    """
    @notice Whether the bootstrapper may still govern alone.
    @return True before the bootstrap deadline, unless bootstrap was ended.
    """
    return self._bootstrapping()


@external
@view
def has_approved_proposal(proposal_id: uint256, member: address) -> bool:
    """
    @notice Whether `member`'s approval of the proposal counts now.
    @dev False for a removed member, and for a re-added member until it
         approves again.
    @param proposal_id The proposal id.
    @param member The account.
    @return True if it approved under its current seat.
    """
    seat: uint256 = self._seat_of[member]
    return seat != 0 and self._approval_seat[proposal_id][member] == seat


@external
@view
def council_members() -> DynArray[address, MAX_COUNCIL]:
    """
    @notice The current council members.
    @return The member addresses.
    """
    return self._members


@external
@view
def proposal(proposal_id: uint256) -> Proposal:
    """
    @notice A proposal by id (all zero if it does not exist).
    @param proposal_id The proposal id.
    @return The proposal record.
    """
    return self._proposals[proposal_id]


@external
def propose(target: address, data: Bytes[MAX_PROPOSAL_DATA]) -> uint256:
    """
    @notice Proposes calldata to be executed against `target`; the
            proposer's approval counts.
    @dev Only council members. The proposal expires `proposal_ttl` seconds later.
    @param target This contract or a contract it governs; not zero.
    @param data ABI-encoded call of a governed function of `target`.
    @return The new proposal id.
    """
    self._enforce_member(msg.sender)
    assert target.is_contract, "council: target not a contract"
    assert len(data) >= 4, "council: empty proposal"
    proposal_id: uint256 = self.proposal_count + 1
    self.proposal_count = proposal_id
    expires: uint256 = block.timestamp + self.proposal_ttl
    self._proposals[proposal_id] = Proposal(
        proposer=msg.sender,
        target=target,
        data=data,
        created=block.timestamp,
        expires=expires,
        approvals=1,
        executed=False,
        cancelled=False,
    )
    self._approval_seat[proposal_id][msg.sender] = self._seat_of[msg.sender]
    log ProposalCreated(
        proposal_id=proposal_id, proposer=msg.sender, target=target, expires=expires, data=data
    )
    log ProposalApproved(
        proposal_id=proposal_id, member=msg.sender, approvals=1, threshold=self.council_threshold
    )
    return proposal_id


@external
@nonreentrant
def approve_proposal(proposal_id: uint256):
    """
    @notice Approves an open proposal; the approval that reaches the
            threshold executes it in the same transaction.
    @dev Approvals are recounted over the current members under their
         current seats, so a removed member's approval no longer counts, and
         re-adding it does not revive it. If the call fails, the whole
         transaction reverts with the inner revert data and the proposal
         stays open.
    @param proposal_id The proposal id.
    """
    self._enforce_member(msg.sender)
    self._enforce_open(proposal_id)
    seat: uint256 = self._seat_of[msg.sender]
    assert self._approval_seat[proposal_id][msg.sender] != seat, "council: already approved"
    self._approval_seat[proposal_id][msg.sender] = seat
    approvals: uint256 = self._count_approvals(proposal_id)
    self._proposals[proposal_id].approvals = approvals
    threshold: uint256 = self.council_threshold
    log ProposalApproved(
        proposal_id=proposal_id, member=msg.sender, approvals=approvals, threshold=threshold
    )
    if approvals < threshold:
        return
    # Mark first: the call below must not be able to execute it twice.
    self._proposals[proposal_id].executed = True
    success: bool = False
    response: Bytes[MAX_REVERT_DATA] = b""
    success, response = raw_call(
        self._proposals[proposal_id].target,
        self._proposals[proposal_id].data,
        max_outsize=MAX_REVERT_DATA,
        revert_on_failure=False,
    )
    if not success:
        raw_revert(response)
    log ProposalExecuted(proposal_id=proposal_id, executor=msg.sender)


@external
def cancel_proposal(proposal_id: uint256):
    """
    @notice Withdraws an open proposal.
    @dev Only its proposer.
    @param proposal_id The proposal id.
    """
    self._enforce_open(proposal_id)
    assert self._proposals[proposal_id].proposer == msg.sender, "council: not proposer"
    self._proposals[proposal_id].cancelled = True
    log ProposalCancelled(proposal_id=proposal_id, proposer=msg.sender)


@external
def end_bootstrap():
    """
    @notice Ends the deployer's direct governance power, forever.
    @dev The bootstrapper, or the council through an executed proposal (so
         a deployment left bootstrapping is closed by k-of-n, not only by
         waiting for the deadline); only while bootstrapping.
    """
    assert msg.sender == self.bootstrapper or msg.sender == self, "council: not bootstrapper"
    assert self._bootstrapping(), "council: bootstrap ended"
    self.bootstrap_deadline = block.timestamp
    log BootstrapEnded(bootstrapper=self.bootstrapper)


@external
def add_council_member(member: address):
    """
    @notice Adds a council member.
    @dev Governed.
    @param member The new member; not zero, not already a member.
    """
    self._enforce_governance()
    self._add_member(member)


@external
def remove_council_member(member: address):
    """
    @notice Removes a council member; the council never shrinks below the threshold.
    @dev Governed. Pending approvals of the removed member stop counting.
    @param member The member to remove.
    """
    self._enforce_governance()
    assert self.is_council[member], "council: not member"
    assert len(self._members) > self.council_threshold, "council: below threshold"
    self.is_council[member] = False
    self._seat_of[member] = 0
    last: address = self._members.pop()
    if last != member:
        for i: uint256 in range(MAX_COUNCIL):
            if self._members[i] == member:
                self._members[i] = last
                break
    log CouncilMemberRemoved(member=member)


@external
def set_threshold(threshold: uint256):
    """
    @notice Sets k, the number of approvals that executes a proposal.
    @dev Governed.
    @param threshold The new k; 2 <= k <= council size.
    """
    self._enforce_governance()
    self._set_threshold(threshold)


@internal
@view
def _enforce_governance():
    """
    @dev Reverts unless the caller is this contract (an executed proposal)
         or the bootstrapper during the bootstrap window.
    """
    assert msg.sender == self or (
        msg.sender == self.bootstrapper and self._bootstrapping()
    ), "council: not governance"


@internal
@view
def _enforce_member(account: address):
    """
    @dev Reverts unless `account` is a council member.
    @param account The account to check.
    """
    assert self.is_council[account], "council: not member"


@internal
@view
def _bootstrapping() -> bool:
    """
    @dev Whether the bootstrap window is open.
    @return True before `bootstrap_deadline`.
    """
    return block.timestamp < self.bootstrap_deadline


@internal
@view
def _enforce_open(proposal_id: uint256):
    """
    @dev Reverts unless the proposal exists, is neither executed nor
         cancelled, and has not expired.
    @param proposal_id The proposal id.
    """
    assert self._proposals[proposal_id].proposer != empty(address), "council: unknown proposal"
    assert not self._proposals[proposal_id].executed, "council: proposal closed"
    assert not self._proposals[proposal_id].cancelled, "council: proposal closed"
    assert block.timestamp < self._proposals[proposal_id].expires, "council: proposal expired"


@internal
@view
def _count_approvals(proposal_id: uint256) -> uint256:
    """
    @dev Counts the current members who approved the proposal under their
         current seat.
    @param proposal_id The proposal id.
    @return The number of approvals that count.
    """
    approvals: uint256 = 0
    for member: address in self._members:
        # Members hold nonzero seats, so an absent approval (0) never matches.
        if self._approval_seat[proposal_id][member] == self._seat_of[member]:
            # At most MAX_COUNCIL increments: cannot overflow.
            approvals = unsafe_add(approvals, 1)
    return approvals


@internal
def _add_member(member: address):
    """
    @dev Adds `member` to the council.
    @param member The new member; not zero, not already a member.
    """
    assert member != empty(address), "council: zero address"
    assert not self.is_council[member], "council: duplicate member"
    assert len(self._members) < MAX_COUNCIL, "council: full"
    self._members.append(member)
    self.is_council[member] = True
    # One seat per joining, never reused: far below 2**256.
    seat: uint256 = unsafe_add(self._seat_count, 1)
    self._seat_count = seat
    self._seat_of[member] = seat
    log CouncilMemberAdded(member=member)


@internal
def _set_threshold(threshold: uint256):
    """
    @dev Sets k after checking 2 <= k <= council size.
    @param threshold The new k.
    """
    assert threshold >= 2 and threshold <= len(self._members), "council: bad threshold"
    self.council_threshold = threshold
    log ThresholdSet(threshold=threshold)
