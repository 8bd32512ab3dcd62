"""The SDK's exceptions: one root, contract reverts decoded into one class per contract module."""

from __future__ import annotations

import re


class SdkError(Exception):
    """Root of every error the SDK raises."""


class ConfigError(SdkError, ValueError):
    """A configuration file (oracle, notifier, payload store, deployment plan), a deployment file or an option
    is missing or malformed: the one configuration error of the product."""


class KeystoreError(SdkError, ValueError):
    """A keystore or passphrase file cannot be read, is not a keystore, or its passphrase is wrong."""


class NodeUnavailable(SdkError, ConnectionError):
    """The JSON-RPC node did not answer."""


class TransactionFailed(SdkError):
    """The node refused a transaction, or it was mined but failed without a reason."""

    def __init__(self, message: str, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class Timeout(SdkError, TimeoutError):
    """An awaited outcome did not arrive in time."""


class PasskeyError(SdkError, ValueError):
    """A phone's passkey registration is malformed, or the chain would not stand behind it (wrong deployment,
    not signed by the principal's device, another relying party)."""


class ContractRevert(SdkError):
    """The contract reverted with ``module: reason``."""

    module = ""

    def __init__(self, reason: str, module: str | None = None) -> None:
        self.module = module if module is not None else type(self).module
        self.reason = reason
        # What the caller knows that makes the reason clearer (the policy's group, cap...): sdk/reasons.py.
        self.params: dict[str, str] | None = None
        super().__init__(f"{self.module}: {reason}" if self.module else reason)

    @property
    def code(self) -> str:
        """The revert string as the contract wrote it: ``requests: bad duration``."""
        return f"{self.module}: {self.reason}" if self.module else self.reason


class CouncilError(ContractRevert):
    module = "council"


class PrincipalsError(ContractRevert):
    module = "principals"


class PoliciesError(ContractRevert):
    module = "policies"


class RequestsError(ContractRevert):
    module = "requests"


class GrantsError(ContractRevert):
    module = "grants"


class ReceiptsError(ContractRevert):
    module = "receipts"


class RolesError(ContractRevert):
    module = "roles"


class OraclesError(ContractRevert):
    module = "oracles"


class SuspensionError(ContractRevert):
    module = "suspension"


class LeaversError(ContractRevert):
    module = "leavers"


class GovernanceError(ContractRevert):
    module = "governance"


class NodesError(ContractRevert):
    module = "nodes"


class SecondFactorError(ContractRevert):
    module = "second_factor"


class FactorsError(ContractRevert):
    module = "factors"


class ReviewsError(ContractRevert):
    module = "reviews"


_BY_MODULE: dict[str, type[ContractRevert]] = {
    cls.module: cls
    for cls in (
        CouncilError,
        PrincipalsError,
        PoliciesError,
        RequestsError,
        GrantsError,
        ReceiptsError,
        RolesError,
        OraclesError,
        SuspensionError,
        LeaversError,
        GovernanceError,
        NodesError,
        SecondFactorError,
        FactorsError,
        ReviewsError,
    )
}
_REASON = re.compile(r"([a-z_]+): (.+)$")


def revert_from_message(message: str) -> ContractRevert:
    """Turn a node's revert message (``execution reverted: grants: not active``) into a domain exception."""
    text = message.strip()
    for prefix in ("execution reverted:", "VM Exception while processing transaction: revert", "revert"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    match = _REASON.match(text)
    if match is None:
        return ContractRevert(text or "reverted without a reason", module="")
    module, reason = match.groups()
    cls = _BY_MODULE.get(module)
    if cls is None:
        return ContractRevert(reason, module=module)
    return cls(reason)


# What a daemon treats as "the node is unreachable": it goes on from its journal and tries again later.
# (requests' RequestException is an OSError: importing requests here would cost every command ~0.1 s.)
CHAIN_DOWN: tuple[type[BaseException], ...] = (
    ConnectionError,
    OSError,
    NodeUnavailable,
    Timeout,
)
