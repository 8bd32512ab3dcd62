# pragma version ~=0.4.3
"""
@title Council: k-of-n governance with proposals and a one-way bootstrap
@custom:contract-name council
@license Apache-2.0
@notice Every governed change (roles, oracles, principals, policies, the
        council itself) goes through a proposal that `threshold` council
        members approve; the approval that reaches the threshold executes the
        proposal's calldata against this contract at once. The deployer may
        call governed functions directly only until `end_bootstrap()`.
@dev Other modules call `_enforce_governance()` at the top of every governed
     function and `_enforce_member()` for single-member emergency actions.
"""


# Upper bound on the council size; also the bound of every member loop.
MAX_COUNCIL: constant(uint256) = 16
# Largest calldata a proposal may carry (set_policy with 16 approvers fits).
MAX_PROPOSAL_DATA: constant(uint256) = 2048
# Revert data bubbled from a failing proposal call; revert strings are short.
MAX_REVERT_DATA: constant(uint256) = 256


# A pending, executed or cancelled governance proposal.
struct Proposal:
    proposer: address
    data: Bytes[MAX_PROPOSAL_DATA]
    created: uint256
    expires: uint256
    approvals: uint256
    executed: bool
    cancelled: bool


# Deployer; may call governed functions directly while `bootstrapping`.
bootstrapper: public(address)
# True from deployment until `end_bootstrap()`; never true again.
bootstrapping: public(bool)
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
# Proposal id -> proposal.
_proposals: HashMap[uint256, Proposal]
# Proposal id -> member -> has approved (removed members stop counting).
has_approved_proposal: public(HashMap[uint256, HashMap[address, bool]])


event ProposalCreated:
    proposal_id: indexed(uint256)
    proposer: indexed(address)
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
def __init__(members: DynArray[address, MAX_COUNCIL], threshold: uint256, proposal_ttl: uint256):
    """
    @dev Seeds the council and opens the bootstrap window for `msg.sender`.
    @param members The initial council; no zero address, no duplicates.
    @param threshold The initial k; 2 <= k <= len(members).
    @param proposal_ttl Seconds a proposal stays approvable; nonzero.
    """
    assert proposal_ttl != 0, "council: zero ttl"
    for member: address in members:
        self._add_member(member)
    self._set_threshold(threshold)
    self.proposal_ttl = proposal_ttl
    self.bootstrapper = msg.sender
    self.bootstrapping = True


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
def propose(data: Bytes[MAX_PROPOSAL_DATA]) -> uint256:
    """
    @notice Proposes calldata to be executed against this contract; the
            proposer's approval counts.
    @dev Only council members. The proposal expires `proposal_ttl` seconds later.
    @param data ABI-encoded call of a governed function of this contract.
    @return The new proposal id.
    """
    self._enforce_member(msg.sender)
    assert len(data) >= 4, "council: empty proposal"
    proposal_id: uint256 = self.proposal_count + 1
    self.proposal_count = proposal_id
    expires: uint256 = block.timestamp + self.proposal_ttl
    self._proposals[proposal_id] = Proposal(
        proposer=msg.sender,
        data=data,
        created=block.timestamp,
        expires=expires,
        approvals=1,
        executed=False,
        cancelled=False,
    )
    self.has_approved_proposal[proposal_id][msg.sender] = True
    log ProposalCreated(proposal_id=proposal_id, proposer=msg.sender, expires=expires, data=data)
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
    @dev Approvals are recounted over the current members, so a removed
         member's approval no longer counts. If the call fails, the whole
         transaction reverts with the inner revert data and the proposal
         stays open.
    @param proposal_id The proposal id.
    """
    self._enforce_member(msg.sender)
    self._enforce_open(proposal_id)
    assert not self.has_approved_proposal[proposal_id][msg.sender], "council: already approved"
    self.has_approved_proposal[proposal_id][msg.sender] = True
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
        self,
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
    @dev Only the bootstrapper, only once.
    """
    assert msg.sender == self.bootstrapper, "council: not bootstrapper"
    assert self.bootstrapping, "council: bootstrap ended"
    self.bootstrapping = False
    log BootstrapEnded(bootstrapper=msg.sender)


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
        self.bootstrapping and msg.sender == self.bootstrapper
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
def _is_governance_or_member(account: address) -> bool:
    """
    @dev True for a council member, this contract (an executed proposal) or
         the bootstrapper during the bootstrap window.
    @param account The account to check.
    @return Whether `account` may take single-member emergency actions.
    """
    return (
        self.is_council[account]
        or account == self
        or (self.bootstrapping and account == self.bootstrapper)
    )


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
    @dev Counts the current members who approved the proposal.
    @param proposal_id The proposal id.
    @return The number of approvals that count.
    """
    approvals: uint256 = 0
    for member: address in self._members:
        if self.has_approved_proposal[proposal_id][member]:
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
