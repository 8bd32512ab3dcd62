# pragma version ~=0.4.3
"""
@title Oracles: the receipt-posting oracles of each AD domain, and its encryption key
@custom:contract-name oracles
@license Apache-2.0
@notice A domain has one or more oracles (one per domain controller site, so
        no single host matters); each may post receipts and drift reports for
        it, and the first receipt for an action wins. Requesters encrypt
        password payloads to the domain's X25519 public key published here;
        every oracle of the domain holds its private key.
"""

from . import governance
from . import roles

uses: governance
uses: roles


# Domain -> account -> whether it is one of the domain's oracles.
is_domain_oracle: public(HashMap[bytes32, HashMap[address, bool]])
# Domain -> the X25519 public key its oracles decrypt payloads with.
oracle_enc_pubkey: public(HashMap[bytes32, bytes32])
# Oracle account -> number of domains it serves; it keeps ORACLE while > 0.
oracle_domain_count: public(HashMap[address, uint256])


event OracleSet:
    domain: indexed(bytes32)
    oracle: indexed(address)
    enc_pubkey: bytes32
    active: bool


@external
def set_oracle(domain: bytes32, oracle: address, enc_pubkey: bytes32):
    """
    @notice Adds `oracle` to the oracles of `domain` (or keeps it) and sets
            the domain's encryption key.
    @dev Governed. Grants ORACLE to the oracle.
    @param domain The domain id; nonzero.
    @param oracle The oracle account; nonzero.
    @param enc_pubkey The domain's X25519 public key; nonzero.
    """
    governance._enforce_governance()
    assert domain != empty(bytes32), "oracles: zero domain"
    assert oracle != empty(address), "oracles: zero address"
    assert enc_pubkey != empty(bytes32), "oracles: zero key"
    self.oracle_enc_pubkey[domain] = enc_pubkey
    if not self.is_domain_oracle[domain][oracle]:
        self.is_domain_oracle[domain][oracle] = True
        self.oracle_domain_count[oracle] += 1
        roles._set_roles(oracle, roles.roles_of[oracle] | roles.Role.ORACLE)
    log OracleSet(domain=domain, oracle=oracle, enc_pubkey=enc_pubkey, active=True)


@external
def remove_oracle(domain: bytes32, oracle: address):
    """
    @notice Removes `oracle` from the oracles of `domain`.
    @dev Governed. Withdraws ORACLE once it serves no domain.
    @param domain The domain id.
    @param oracle One of its oracles.
    """
    governance._enforce_governance()
    assert self.is_domain_oracle[domain][oracle], "oracles: not oracle"
    self.is_domain_oracle[domain][oracle] = False
    # `oracle` serves `domain`, so its count is at least 1.
    remaining: uint256 = unsafe_sub(self.oracle_domain_count[oracle], 1)
    self.oracle_domain_count[oracle] = remaining
    if remaining == 0:
        roles._set_roles(oracle, roles.roles_of[oracle] & ~roles.Role.ORACLE)
    log OracleSet(domain=domain, oracle=oracle, enc_pubkey=self.oracle_enc_pubkey[domain], active=False)


@internal
@view
def _enforce_oracle(domain: bytes32, account: address):
    """
    @dev Reverts unless `account` is an oracle of `domain` and holds ORACLE.
    @param domain The domain id.
    @param account The caller.
    """
    assert self.is_domain_oracle[domain][account], "oracles: not oracle"
    roles._enforce_role(account, roles.Role.ORACLE)
