# pragma version ~=0.4.3
"""
@title Principals: pseudonymous directory ids bound to device keys
@custom:contract-name principals
@license Apache-2.0
@notice A principal is keyed by a pseudonymous `directory_id` (e.g. a keyed
        hash of the AD objectGUID); no personal data is stored. Each
        principal has exactly one device key; rotating it strips the old
        key of all power at once.
"""

from . import governance

uses: governance


# Principal status: never enrolled.
PRINCIPAL_NONE: public(constant(uint8)) = 0
# Principal status: may request and approve.
PRINCIPAL_ACTIVE: public(constant(uint8)) = 1
# Principal status: may do nothing until reinstated.
PRINCIPAL_SUSPENDED: public(constant(uint8)) = 2


# An enrolled principal.
struct Principal:
    device: address
    domain: bytes32
    status: uint8


# Directory id -> principal.
_principals: HashMap[bytes32, Principal]
# Device key -> directory id (zero if none).
principal_of: public(HashMap[address, bytes32])
# Directory id -> generation, bumped on suspension and device rotation: an
# approval cast under an older generation (perhaps by a stolen device) no
# longer counts, even after reinstatement.
generation: public(HashMap[bytes32, uint256])


event PrincipalEnrolled:
    directory_id: indexed(bytes32)
    device: indexed(address)
    domain: indexed(bytes32)

event DeviceRotated:
    directory_id: indexed(bytes32)
    old_device: indexed(address)
    new_device: indexed(address)

event PrincipalSuspended:
    directory_id: indexed(bytes32)
    by: indexed(address)

event PrincipalReinstated:
    directory_id: indexed(bytes32)


@external
@view
def principal(directory_id: bytes32) -> Principal:
    """
    @notice The principal enrolled under `directory_id`.
    @param directory_id The pseudonymous directory id.
    @return (device, domain, status); all zero if never enrolled.
    """
    return self._principals[directory_id]


@external
def enrol(device: address, directory_id: bytes32, domain: bytes32):
    """
    @notice Enrols a principal with its device key, ACTIVE.
    @dev Governed.
    @param device The device key; nonzero and not bound to another principal.
    @param directory_id The pseudonymous directory id; nonzero, not enrolled.
    @param domain The AD domain id; nonzero.
    """
    governance._enforce_governance()
    assert device != empty(address), "principals: zero address"
    assert directory_id != empty(bytes32), "principals: zero id"
    assert domain != empty(bytes32), "principals: zero domain"
    assert self._principals[directory_id].status == PRINCIPAL_NONE, "principals: already enrolled"
    assert self.principal_of[device] == empty(bytes32), "principals: device in use"
    self._principals[directory_id] = Principal(device=device, domain=domain, status=PRINCIPAL_ACTIVE)
    self.principal_of[device] = directory_id
    log PrincipalEnrolled(directory_id=directory_id, device=device, domain=domain)


@external
def rotate_device(directory_id: bytes32, new_device: address):
    """
    @notice Replaces a principal's device key (lost or compromised device).
    @dev Governed. The old key maps to nothing from this block on; the
         principal's status, requests and grants are unchanged; approvals
         it cast on pending requests stop counting (a new generation).
    @param directory_id The principal.
    @param new_device The new device key; nonzero and unbound.
    """
    governance._enforce_governance()
    assert self._principals[directory_id].status != PRINCIPAL_NONE, "principals: unknown principal"
    assert new_device != empty(address), "principals: zero address"
    assert self.principal_of[new_device] == empty(bytes32), "principals: device in use"
    old_device: address = self._principals[directory_id].device
    self.principal_of[old_device] = empty(bytes32)
    self.principal_of[new_device] = directory_id
    self._principals[directory_id].device = new_device
    self.generation[directory_id] += 1
    log DeviceRotated(directory_id=directory_id, old_device=old_device, new_device=new_device)


@internal
@view
def _status(directory_id: bytes32) -> uint8:
    """
    @dev The status of a principal.
    @param directory_id The principal.
    @return PRINCIPAL_NONE, PRINCIPAL_ACTIVE or PRINCIPAL_SUSPENDED.
    """
    return self._principals[directory_id].status


@internal
@view
def _active_id(device: address) -> bytes32:
    """
    @dev The directory id behind `device` if that principal is ACTIVE, else zero.
    @param device The device key.
    @return The directory id or zero.
    """
    directory_id: bytes32 = self.principal_of[device]
    if self._principals[directory_id].status != PRINCIPAL_ACTIVE:
        return empty(bytes32)
    return directory_id


@internal
def _suspend(directory_id: bytes32):
    """
    @dev Marks an ACTIVE principal SUSPENDED, voids its pending approvals
         (a new generation) and logs it.
    @param directory_id The principal.
    """
    assert self._principals[directory_id].status == PRINCIPAL_ACTIVE, "principals: not active"
    self._principals[directory_id].status = PRINCIPAL_SUSPENDED
    self.generation[directory_id] += 1
    log PrincipalSuspended(directory_id=directory_id, by=msg.sender)


@internal
def _reinstate(directory_id: bytes32):
    """
    @dev Marks a SUSPENDED principal ACTIVE again and logs it.
    @param directory_id The principal.
    """
    assert self._principals[directory_id].status == PRINCIPAL_SUSPENDED, "principals: not suspended"
    self._principals[directory_id].status = PRINCIPAL_ACTIVE
    log PrincipalReinstated(directory_id=directory_id)
