"""The oracle's exceptions."""

from __future__ import annotations

from pamchain.sdk.errors import SdkError


class OracleError(SdkError):
    """Root of the oracle daemon's errors."""


class ChainReorganised(OracleError):
    """A block the oracle treated as final changed: the node is misconfigured or the network forked badly."""

    def __init__(self, number: int, expected: str, found: str) -> None:
        super().__init__(f"final block {number} changed from {expected} to {found}: refusing to continue")
        self.number = number
        self.expected = expected
        self.found = found


class PermanentFailure(OracleError):
    """An AD action that retrying cannot fix; it is reported on chain as FAILED with this reason."""


class NotConfirmed(OracleError):
    """AD accepted a change but reading it back does not show it (e.g. a member the group still holds
    through its primary group): never reported as applied; retried, and a late removal raises an alarm."""


class EndpointLies(OracleError):
    """The RPC endpoint served chain data that fails verification (seal, link, hash or receipts root).

    The oracle stops following that endpoint until it is restarted: nothing it serves is acted upon.
    """

    def __init__(self, endpoint: str, number: int, block_hash: str | None, reason: str) -> None:
        at = f"block {number}" + (f" ({block_hash})" if block_hash else "")
        super().__init__(f"the node at {endpoint} served data that fails verification at {at}: {reason}")
        self.endpoint = endpoint
        self.number = number
        self.block_hash = block_hash
        self.reason = reason


class UnverifiedBlock(OracleError, LookupError):
    """Events were asked for a block the light client has not verified as final."""

    def __init__(self, number: int, verified: int) -> None:
        super().__init__(f"block {number} is not verified final (verified up to {verified})")
        self.number = number
        self.verified = verified
