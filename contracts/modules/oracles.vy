# pragma version ~=0.4.3
"""
@title Oracles: one receipt-posting oracle per AD domain, with its encryption key
@custom:contract-name oracles
@license Apache-2.0
@notice Requesters encrypt password payloads to the domain oracle's X25519
        public key published here; only the registered oracle, holding the
        ORACLE role, may post receipts and drift reports for its domain.
"""

from . import council
from . import roles

uses: council
uses: roles


# The oracle registered for a domain.
struct Oracle:
    account: address
    enc_pubkey: bytes32


# Domain -> its oracle account.
oracle_of: public(HashMap[bytes32, address])
# Domain -> its oracle's X25519 public key (what requesters encrypt payloads to).
oracle_enc_pubkey: public(HashMap[bytes32, bytes32])
# Oracle account -> number of domains it serves; it keeps ORACLE while > 0.
oracle_domain_count: public(HashMap[address, uint256])


event OracleSet:
    domain: indexed(bytes32)
    oracle: indexed(address)
    enc_pubkey: bytes32
    previous: address


@external
@view
def oracle(domain: bytes32) -> Oracle:
    """
    @notice The oracle of `domain` and its X25519 public key.
    @param domain The domain id.
    @return The oracle record (zero if none).
    """
    return Oracle(account=self.oracle_of[domain], enc_pubkey=self.oracle_enc_pubkey[domain])


@external
def set_oracle(domain: bytes32, oracle: address, enc_pubkey: bytes32):
    """
    @notice Registers (or replaces) the oracle of `domain` and its key.
    @dev Governed. Grants ORACLE to the new oracle; withdraws it from the
         previous one once it serves no domain.
    @param domain The domain id; nonzero.
    @param oracle The oracle account; nonzero.
    @param enc_pubkey Its X25519 public key; nonzero.
    """
    council._enforce_governance()
    assert domain != empty(bytes32), "oracles: zero domain"
    assert oracle != empty(address), "oracles: zero address"
    assert enc_pubkey != empty(bytes32), "oracles: zero key"
    previous: address = self.oracle_of[domain]
    self.oracle_of[domain] = oracle
    self.oracle_enc_pubkey[domain] = enc_pubkey
    if previous != oracle:
        if previous != empty(address):
            # `previous` serves `domain`, so its count is at least 1.
            remaining: uint256 = unsafe_sub(self.oracle_domain_count[previous], 1)
            self.oracle_domain_count[previous] = remaining
            if remaining == 0:
                roles._set_roles(previous, roles.roles_of[previous] & ~roles.Role.ORACLE)
        self.oracle_domain_count[oracle] += 1
        roles._set_roles(oracle, roles.roles_of[oracle] | roles.Role.ORACLE)
    log OracleSet(domain=domain, oracle=oracle, enc_pubkey=enc_pubkey, previous=previous)


@internal
@view
def _enforce_oracle(domain: bytes32, account: address):
    """
    @dev Reverts unless `account` is the oracle of `domain` and holds ORACLE.
    @param domain The domain id.
    @param account The caller.
    """
    assert account != empty(address) and self.oracle_of[domain] == account, "oracles: not oracle"
    roles._enforce_role(account, roles.Role.ORACLE)
