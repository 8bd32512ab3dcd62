# pragma version ~=0.4.3
"""
@title Ledger: the request records every lifecycle module reads and writes
@custom:contract-name ledger
@license Apache-2.0
@notice A request (unlock, elevation or password reset) and, for an
        elevation, its grant share one record and one id. `status_of` is the
        effective status: a PENDING request past its deadline reads EXPIRED
        and an ACTIVE grant at or after its expiry reads ENDED, whether or
        not anybody recorded it.
"""


# Request kind: unlock the requester's AD account.
KIND_UNLOCK: public(constant(uint8)) = 1
# Request kind: temporary membership of a privileged AD group.
KIND_ELEVATE: public(constant(uint8)) = 2
# Request kind: reset the requester's AD password.
KIND_PASSWORD_RESET: public(constant(uint8)) = 3

# Status: no such request.
STATUS_NONE: public(constant(uint8)) = 0
# Status: waiting for approvals.
STATUS_PENDING: public(constant(uint8)) = 1
# Status: unlock/password approved, waiting for the oracle's receipt.
STATUS_APPROVED: public(constant(uint8)) = 2
# Status: an approver denied it.
STATUS_DENIED: public(constant(uint8)) = 3
# Status: the requester withdrew it.
STATUS_CANCELLED: public(constant(uint8)) = 4
# Status: still pending at its deadline.
STATUS_EXPIRED: public(constant(uint8)) = 5
# Status: elevation grant live in [start, expiry).
STATUS_ACTIVE: public(constant(uint8)) = 6
# Status: elevation grant ended (expired, revoked or principal suspended).
STATUS_ENDED: public(constant(uint8)) = 7
# Status: unlock/password applied by the oracle.
STATUS_FULFILLED: public(constant(uint8)) = 8
# Status: unlock/password failed at the oracle.
STATUS_FAILED: public(constant(uint8)) = 9


# One request and, for an elevation, its grant window.
struct Request:
    kind: uint8
    status: uint8
    requester: address
    subject: bytes32
    target: bytes32
    domain: bytes32
    duration: uint256
    created: uint256
    deadline: uint256
    approvals: uint256
    approvals_required: uint256
    break_glass: bool
    justification_hash: bytes32
    ticket_ref: bytes32
    payload_hash: bytes32
    start: uint256
    expiry: uint256


# Id of the latest request; ids start at 1, 0 means none.
request_count: public(uint256)
# Request id -> record.
_requests: HashMap[uint256, Request]


@external
@view
def request(request_id: uint256) -> Request:
    """
    @notice The stored record of a request (status as recorded; see `status_of`).
    @param request_id The request id.
    @return The record (all zero if it does not exist).
    """
    return self._requests[request_id]


@external
@view
def status_of(request_id: uint256) -> uint8:
    """
    @notice The effective status of a request at the current block.
    @dev PENDING at or after the deadline reads EXPIRED; ACTIVE at or after
         the expiry reads ENDED.
    @param request_id The request id.
    @return One of the STATUS_* constants.
    """
    status: uint8 = self._requests[request_id].status
    if status == STATUS_PENDING and block.timestamp >= self._requests[request_id].deadline:
        return STATUS_EXPIRED
    if status == STATUS_ACTIVE and block.timestamp >= self._requests[request_id].expiry:
        return STATUS_ENDED
    return status


@internal
@view
def _is_live(request_id: uint256) -> bool:
    """
    @dev Whether the request is a grant ACTIVE before its expiry.
    @param request_id The request id.
    @return True while the grant confers its privilege.
    """
    return (
        self._requests[request_id].status == STATUS_ACTIVE
        and block.timestamp < self._requests[request_id].expiry
    )
