# Over 500 lines on purpose: the typed client is the SDK's one surface over the deployment's contracts.
"""The typed client: every pamchain operation over any Ethereum JSON-RPC node, in the SDK's own types."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import FilterParams

from .config_file import read_json
from .errors import ConfigError, SdkError, Timeout, revert_from_message
from .events import Event, EventDecoder
from .model import (
    ZERO32,
    Action,
    Campaign,
    Council,
    ItemStatus,
    Kind,
    LapseAction,
    LeaverReason,
    Outcome,
    Policy,
    Principal,
    PrincipalStatus,
    Proposal,
    Receipt,
    Request,
    Reviewer,
    ReviewItem,
    ReviewScope,
    Status,
    to_bytes32,
)
from .transactions import Sender, as_revert, wait_until

DEPLOYABLE = "PamChain"  # the contract requests, grants and receipts live on
COUNCIL = "Council"  # the k-of-n governor of the deployment
NETWORK = "PamNetwork"  # the node allowlist
FACTORS = "PamFactors"  # the passkeys PamChain checks approvals and break-glass requests against
REVIEWS = "PamReviews"  # access-review campaigns
SUSPENDER_ROLE = 4  # PamChain's Role.SUSPENDER: may suspend principals and nothing else (held by PamReviews)
BATCH_GAS = 1_500_000  # per call of a batch: above the dearest governed call (set_policy with 16 approvers)


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where a pamchain suite lives: what the SDK and CLI need to find it again."""

    chain_id: int
    address: str
    block: int
    abi_version: str
    block_hash: str | None = None  # the deployment block's hash: the oracle's light client trusts it
    council: str | None = None  # the Council contract (PamChain also names it: ``council()``)
    network: str | None = None  # the PamNetwork contract, if deployed
    reviews: str | None = None  # the PamReviews contract; deployments made before access reviews have none

    def save(self, path: str | os.PathLike[str]) -> None:
        entry: dict[str, Any] = {"address": self.address, "block": self.block}
        if self.block_hash is not None:
            entry["block_hash"] = self.block_hash
        contracts: dict[str, Any] = {DEPLOYABLE: entry}
        if self.council is not None:
            contracts[COUNCIL] = {"address": self.council}
        if self.network is not None:
            contracts[NETWORK] = {"address": self.network}
        if self.reviews is not None:
            contracts[REVIEWS] = {"address": self.reviews}
        Path(path).write_text(
            json.dumps(
                {
                    "chain_id": self.chain_id,
                    "contracts": contracts,
                    "abi_version": self.abi_version,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Deployment:
        data = read_json(path, "deployment file")
        try:
            entry = data["contracts"][DEPLOYABLE]
            others = {
                name: to_checksum_address(data["contracts"][name]["address"])
                for name in (COUNCIL, NETWORK, REVIEWS)
                if name in data["contracts"]
            }
            return cls(
                int(data["chain_id"]),
                to_checksum_address(entry["address"]),
                int(entry["block"]),
                str(data["abi_version"]),
                str(entry["block_hash"]) if entry.get("block_hash") else None,
                others.get(COUNCIL),
                others.get(NETWORK),
                others.get(REVIEWS),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} is not a pamchain deployment file") from exc


@dataclass(frozen=True, slots=True)
class TxResult:
    """A mined transaction and the pamchain events it emitted."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[Event, ...]

    def first(self, event_type: type[Event]) -> Any:
        for event in self.events:
            if isinstance(event, event_type):
                return event
        raise LookupError(f"no {event_type.__name__} in {self.tx_hash}")


def suite_artifacts(name: str = DEPLOYABLE) -> dict[str, Any]:
    """ABI and bytecode of one deployable as shipped with the package (built once from the Vyper sources)."""
    from pamchain.contracts import artifacts

    return dict(artifacts()[name])


@functools.cache
def abi_version() -> str:
    """A short fingerprint of the suite's ABIs, so a client can refuse a deployment it does not speak."""
    abi = [
        {**item, "contract": name}
        for name in (DEPLOYABLE, COUNCIL, NETWORK, FACTORS, REVIEWS)
        for item in suite_artifacts(name)["abi"]
    ]
    canonical = json.dumps(sorted(abi, key=lambda item: json.dumps(item, sort_keys=True)), sort_keys=True)
    return keccak(text=canonical).hex()[:16]


def connect(rpc_url: str, *, timeout: float = 30.0) -> Web3:
    """A web3 connection to any JSON-RPC node; Clique's long extraData is accepted."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


class PamClient:
    """One account's handle on one pamchain deployment: PamChain, its Council and, when known, its PamNetwork and
    PamReviews.

    Every call is routed by function name to the contract that has it (PamChain first), so callers name what
    they want done, not where it lives.
    """

    def __init__(
        self,
        w3: Web3,
        address: str,
        account: LocalAccount | None = None,
        *,
        council: str | None = None,
        network: str | None = None,
        reviews: str | None = None,
    ) -> None:
        self.w3 = w3
        self.contract = w3.eth.contract(address=to_checksum_address(address), abi=suite_artifacts()["abi"])
        self._council_address = None if council is None else to_checksum_address(council)
        self.network_contract = (
            None
            if network is None
            else w3.eth.contract(address=to_checksum_address(network), abi=suite_artifacts(NETWORK)["abi"])
        )
        self.reviews_contract = (
            None
            if reviews is None
            else w3.eth.contract(address=to_checksum_address(reviews), abi=suite_artifacts(REVIEWS)["abi"])
        )
        self._routes: dict[str, Any] | None = None
        self._decoder: EventDecoder | None = None
        self.account = account
        self._sender = Sender(w3, account) if account is not None else None

    # -- construction ------------------------------------------------------------------------------------

    @classmethod
    def deploy(
        cls,
        w3: Web3,
        account: LocalAccount,
        council: Sequence[str],
        threshold: int,
        proposal_ttl: int = 7 * 24 * 3600,
        bootstrap_ttl: int = 24 * 3600,
        *,
        rp_id: str = "localhost",
        require_uv: bool = True,
    ) -> tuple[PamClient, Deployment]:
        """Deploy the suite (Council, PamChain, PamNetwork, PamFactors, PamReviews, in that order, from
        ``account``: nonces 0-4 of a fresh deployer, as the genesis expects; then point PamChain at PamFactors);
        ``account`` is the bootstrapper until :meth:`end_bootstrap` or ``bootstrap_ttl``. ``rp_id`` is the
        WebAuthn relying party: the domain the phone app is served from. PamReviews' SUSPENDER role is granted
        by ``deploy_plan``."""
        sender = Sender(w3, account)

        def create(name: str, *args: Any) -> Any:
            artifacts = suite_artifacts(name)
            factory = w3.eth.contract(abi=artifacts["abi"], bytecode=artifacts["bytecode"])
            return sender.send({"data": factory.constructor(*args).data_in_transaction}).receipt

        members = [to_checksum_address(a) for a in council]
        council_address = create(COUNCIL, members, threshold, proposal_ttl, bootstrap_ttl)["contractAddress"]
        receipt = create(DEPLOYABLE, council_address)
        network_address = create(NETWORK, council_address)["contractAddress"]
        rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
        factors_address = create(FACTORS, council_address, rp_id_hash, require_uv)["contractAddress"]
        address = receipt["contractAddress"]
        reviews_address = create(REVIEWS, council_address, address)["contractAddress"]
        deployment = Deployment(
            sender.chain_id(),
            address,
            int(receipt["blockNumber"]),
            abi_version(),
            HexBytes(receipt["blockHash"]).to_0x_hex(),
            to_checksum_address(council_address),
            to_checksum_address(network_address),
            to_checksum_address(reviews_address),
        )
        client = cls(
            w3, address, account, council=council_address, network=network_address, reviews=reviews_address
        )
        client._sender = sender
        client.transact("set_factors", to_checksum_address(factors_address))
        return client, deployment

    @classmethod
    def from_deployment(
        cls, w3: Web3, deployment: Deployment, account: LocalAccount | None = None
    ) -> PamClient:
        if abi_version() != deployment.abi_version:
            raise ConfigError(
                f"deployment speaks ABI {deployment.abi_version}, this SDK speaks {abi_version()}: upgrade one of them"
            )
        if int(w3.eth.chain_id) != deployment.chain_id:
            raise ConfigError(
                f"node is chain {w3.eth.chain_id}, the deployment is on chain {deployment.chain_id}"
            )
        return cls(
            w3,
            deployment.address,
            account,
            council=deployment.council,
            network=deployment.network,
            reviews=deployment.reviews,
        )

    def as_account(self, account: LocalAccount) -> PamClient:
        """The same deployment seen by another key (shares the connection, not the nonce counter)."""
        return PamClient(
            self.w3,
            self.contract.address,
            account,
            council=self._council_address or self.council_contract.address,
            network=None if self.network_contract is None else self.network_contract.address,
            reviews=None if self.reviews_contract is None else self.reviews_contract.address,
        )

    @property
    def address(self) -> str:
        return self.contract.address

    @functools.cached_property
    def council_contract(self) -> Any:
        """The deployment's Council (asked of PamChain on first use when the client was not told)."""
        address = self._council_address or str(self.contract.functions.council().call())
        return self.w3.eth.contract(address=to_checksum_address(address), abi=suite_artifacts(COUNCIL)["abi"])

    @functools.cached_property
    def factors_contract(self) -> Any | None:
        """The deployment's PamFactors (asked of PamChain on first use; None when PamChain has none set)."""
        address = to_checksum_address(self.contract.functions.factors().call())
        if int(address, 16) == 0:
            return None
        return self.w3.eth.contract(address=address, abi=suite_artifacts(FACTORS)["abi"])

    def _contracts(self) -> list[Any]:
        candidates = (
            self.contract,
            self.council_contract,
            self.network_contract,
            self.factors_contract,
            self.reviews_contract,
        )
        return [c for c in candidates if c is not None]

    @property
    def decoder(self) -> EventDecoder:
        if self._decoder is None:
            self._decoder = EventDecoder(*self._contracts())
        return self._decoder

    @property
    def addresses(self) -> list[str]:
        """Every contract of the deployment this client knows (what an event filter should cover)."""
        return list(self.decoder.addresses)

    def contracts_at(self, address: str) -> list[Any]:
        """The deployment's contract objects at ``address`` (none if it is not one of them)."""
        return [c for c in self._contracts() if c.address.lower() == address.lower()]

    def contract_for(self, fn: str) -> Any | None:
        if any(item.get("name") == fn and item.get("type") == "function" for item in self.contract.abi):
            return self.contract  # PamChain wins a name two contracts share (``council``), without a lookup
        if self._routes is None:
            self._routes = {}
            for contract in reversed(self._contracts()):
                for item in contract.abi:
                    if item.get("type") == "function":
                        self._routes[item["name"]] = contract
        return self._routes.get(fn)

    def _function(self, fn: str, *args: Any) -> Any:
        contract = self.contract_for(fn)
        if contract is None:
            raise self._no_contract(fn)
        return getattr(contract.functions, fn)(*args)

    def _no_contract(self, fn: str) -> SdkError:
        unknown = [
            name
            for name, known in ((NETWORK, self.network_contract), (REVIEWS, self.reviews_contract))
            if known is None
        ]
        return SdkError(
            f"no contract of this deployment has {fn}()"
            + (f" ({' and '.join(unknown)} address unknown)" if unknown else "")
        )

    # -- sending -----------------------------------------------------------------------------------------

    def _call(self, fn: str, *args: Any) -> Any:
        try:
            return self._function(fn, *args).call()
        except Exception as exc:
            revert = as_revert(exc)
            if revert is None:
                raise
            raise revert from exc

    def _signing(self) -> Sender:
        if self._sender is None:
            raise SdkError("this client has no account: it can only read")
        return self._sender

    def _encode(self, fn: str, *args: Any) -> str:
        return str(self._function(fn, *args)._encode_transaction_data())

    def _to(self, fn: str) -> str:
        contract = self.contract_for(fn)
        if contract is None:
            raise self._no_contract(fn)
        return str(contract.address)

    def _result(self, sent: Any) -> TxResult:
        receipt = sent.receipt
        return TxResult(
            sent.tx_hash,
            int(receipt["blockNumber"]),
            int(receipt["gasUsed"]),
            tuple(self.decoder.decode_all(receipt["logs"])),
        )

    def transact(self, fn: str, *args: Any) -> TxResult:
        """Send ``fn(*args)`` from this client's account and decode the events it emitted."""
        return self._result(self._signing().send({"to": self._to(fn), "data": self._encode(fn, *args)}))

    def transact_all(
        self, calls: Sequence[tuple[str, Sequence[Any]]], *, gas: int = BATCH_GAS
    ) -> list[TxResult]:
        """Send several calls back to back and wait once (see ``Sender.send_all``); each gets ``gas``."""
        txs = [{"to": self._to(fn), "data": self._encode(fn, *args), "gas": gas} for fn, args in calls]
        return [self._result(sent) for sent in self._signing().send_all(txs)]

    # -- requests ----------------------------------------------------------------------------------------

    def request_unlock(self) -> int:
        return self._new_request(self.transact("request_unlock"))

    def request_password_reset(self, payload_hash: bytes) -> int:
        return self._new_request(self.transact("request_password_reset", to_bytes32(payload_hash)))

    def request_elevation(
        self,
        target: bytes,
        duration: int,
        justification: str = "",
        ticket: bytes = ZERO32,
        *,
        break_glass: bool = False,
        justification_hash: bytes | None = None,
    ) -> int:
        """Ask for membership of ``target`` for ``duration`` seconds; only a salted hash of the justification
        goes on chain. ``justification`` alone is hashed with a salt thrown away (unguessable, and unreadable by
        anyone); to let the approvers read it, seal it with ``sealed_justifications.seal_for_request`` and pass
        the ``justification_hash`` that returns."""
        if justification_hash is None:
            from .justification import justification_hash as salted

            justification_hash = salted(os.urandom(32), justification) if justification else ZERO32
        result = self.transact(
            "request_elevation",
            to_bytes32(target),
            int(duration),
            justification_hash,
            to_bytes32(ticket),
            break_glass,
        )
        return self._new_request(result)

    @staticmethod
    def _new_request(result: TxResult) -> int:
        from .events import RequestCreated

        created: RequestCreated = result.first(RequestCreated)
        return created.request_id

    def approve(self, request_id: int) -> TxResult:
        return self.transact("approve", request_id)

    def deny(self, request_id: int, reason: str = "") -> TxResult:
        from .justification import justification_hash as salted

        # Salted as justifications are, so that a short reason cannot be guessed from the chain.
        return self.transact("deny", request_id, salted(os.urandom(32), reason) if reason else ZERO32)

    def cancel(self, request_id: int) -> TxResult:
        return self.transact("cancel", request_id)

    def revoke(self, request_id: int) -> TxResult:
        return self.transact("revoke", request_id)

    def end_expired(self, request_id: int) -> TxResult:
        return self.transact("end_expired", request_id)

    def expire_request(self, request_id: int) -> TxResult:
        return self.transact("expire_request", request_id)

    def suspend(self, directory_id: bytes) -> TxResult:
        return self.transact("suspend", to_bytes32(directory_id))

    # -- oracle ------------------------------------------------------------------------------------------

    def post_receipt(
        self, request_id: int, action: Action, outcome: Outcome, detail_hash: bytes, dc_id: bytes
    ) -> TxResult:
        return self.transact(
            "post_receipt", request_id, int(action), int(outcome), to_bytes32(detail_hash), to_bytes32(dc_id)
        )

    def report_drift(
        self, domain: bytes, target: bytes, member_hash: bytes, dc_id: bytes, removed: bool
    ) -> TxResult:
        return self.transact(
            "report_drift",
            to_bytes32(domain),
            to_bytes32(target),
            to_bytes32(member_hash),
            to_bytes32(dc_id),
            removed,
        )

    def report_late_removal(self, request_id: int, dc_id: bytes) -> TxResult:
        """Raise Alarm(REMOVAL_LATE): the grant ended, its member is not out of the group yet."""
        return self.transact("report_late_removal", request_id, to_bytes32(dc_id))

    def report_leaver(self, directory_id: bytes, reason: LeaverReason, dc_id: bytes) -> TxResult:
        """Report that an enrolled principal's AD account left; the domain's leaver rule decides what follows
        (a principal no longer ACTIVE: nothing happens)."""
        return self.transact("report_leaver", to_bytes32(directory_id), int(reason), to_bytes32(dc_id))

    # -- governance --------------------------------------------------------------------------------------

    def bootstrapping(self) -> bool:
        return bool(self._call("bootstrapping"))

    def governed(self, fn: str, *args: Any) -> TxResult:
        """Run a governed change: directly while this account bootstraps, otherwise as a council proposal."""
        if (
            self.account is not None
            and self.bootstrapping()
            and self._call("bootstrapper") == self.account.address
        ):
            return self.transact(fn, *args)
        return self.propose(fn, *args)

    def propose(self, fn: str, *args: Any) -> TxResult:
        """Propose ``fn(*args)`` to the council, aimed at the contract that has ``fn``."""
        data = self._encode(fn, *args)
        return self.transact("propose", self._to(fn), bytes.fromhex(data[2:]))

    def approve_proposal(self, proposal_id: int) -> TxResult:
        return self.transact("approve_proposal", proposal_id)

    def end_bootstrap(self) -> TxResult:
        """End bootstrap: directly as the bootstrapper, otherwise as a council proposal (k-of-n ends it)."""
        return self.governed("end_bootstrap")

    def enrol(self, device: str, directory_id: bytes, domain: bytes) -> TxResult:
        return self.governed(
            "enrol", to_checksum_address(device), to_bytes32(directory_id), to_bytes32(domain)
        )

    def set_oracle(self, domain: bytes, oracle: str, enc_pubkey: bytes) -> TxResult:
        """Add ``oracle`` to the oracles of ``domain`` (each domain controller site may run one) and set the
        domain's encryption key, which every oracle of the domain holds."""
        return self.governed(
            "set_oracle", to_bytes32(domain), to_checksum_address(oracle), to_bytes32(enc_pubkey)
        )

    def remove_oracle(self, domain: bytes, oracle: str) -> TxResult:
        return self.governed("remove_oracle", to_bytes32(domain), to_checksum_address(oracle))

    def approval_challenge(self, request_id: int, approver_id: bytes) -> bytes:
        """What the approver's passkey signs to approve ``request_id`` (a WebAuthn challenge)."""
        return bytes(self._call("approval_challenge", request_id, to_bytes32(approver_id)))

    def approve_with_assertion(self, request_id: int, assertion: bytes) -> TxResult:
        """Approve with the approver's WebAuthn assertion, ABI-encoded (see :func:`encode_assertion`)."""
        return self.transact("approve_with_assertion", request_id, assertion)

    def set_authenticator(self, directory_id: bytes, x: int, y: int) -> TxResult:
        """Register a principal's passkey (P-256 public key) in PamFactors (governed)."""
        return self.governed("set_authenticator", to_bytes32(directory_id), (x, y))

    def remove_authenticator(self, directory_id: bytes) -> TxResult:
        """Drop a principal's passkey (lost or replaced phone; governed)."""
        return self.governed("remove_authenticator", to_bytes32(directory_id))

    def has_factor(self, directory_id: bytes) -> bool:
        return bool(self._call("has_factor", to_bytes32(directory_id)))

    def authenticator(self, directory_id: bytes) -> tuple[int, int]:
        """A principal's registered passkey public key (x, y); (0, 0) when none."""
        x, y = self._call("authenticator", to_bytes32(directory_id))
        return int(x), int(y)

    def set_node(self, node_id: bytes, allowed: bool) -> TxResult:
        """Allow or disallow a node (``node_id`` = keccak256 of its 64-byte public key) on PamNetwork."""
        return self.governed("set_node", to_bytes32(node_id), allowed)

    def set_leaver_rule(self, domain: bytes, auto_suspend: bool) -> TxResult:
        """Decide in advance what a leaver report on ``domain`` does: suspend (and end every grant) or alarm only."""
        return self.governed("set_leaver_rule", to_bytes32(domain), bool(auto_suspend))

    def leaver_auto_suspend(self, domain: bytes) -> bool:
        return bool(self._call("leaver_auto_suspend", to_bytes32(domain)))

    def is_node_allowed(self, node_id: bytes) -> bool:
        return bool(self._call("is_node_allowed", to_bytes32(node_id)))

    def set_policy(
        self,
        target: bytes,
        domain: bytes,
        *,
        approvers: Iterable[bytes] = (),
        approvals_required: int = 1,
        max_duration: int = 0,
        max_pending: int = 3600,
        self_service: bool = False,
        enabled: bool = True,
        break_glass_approvals: int = 0,
        break_glass_max_duration: int = 0,
        requesters: Iterable[bytes] = (),
        break_glass_cooldown: int = 0,
        unlock_limit: int = 0,
        unlock_window: int = 0,
    ) -> TxResult:
        return self.governed(
            "set_policy",
            to_bytes32(target),
            to_bytes32(domain),
            approvals_required,
            max_duration,
            max_pending,
            self_service,
            enabled,
            break_glass_approvals,
            break_glass_max_duration,
            [to_bytes32(a) for a in approvers],
            [to_bytes32(r) for r in requesters],
            break_glass_cooldown,
            unlock_limit,
            unlock_window,
        )

    # -- reads -------------------------------------------------------------------------------------------

    def request(self, request_id: int) -> Request:
        raw = self._call("request", request_id)
        if int(raw[1]) == Status.NONE:
            raise SdkError(f"no request {request_id}")
        status = Status(int(self._call("status_of", request_id)))
        fields = list(raw)
        return Request(
            id=request_id,
            kind=Kind(int(fields[0])),
            status=status,
            requester=to_checksum_address(fields[2]),
            subject=bytes(fields[3]),
            target=bytes(fields[4]),
            domain=bytes(fields[5]),
            duration=int(fields[6]),
            created=int(fields[7]),
            deadline=int(fields[8]),
            approvals=int(fields[9]),
            approvals_required=int(fields[10]),
            break_glass=bool(fields[11]),
            justification_hash=bytes(fields[12]),
            ticket_ref=bytes(fields[13]),
            payload_hash=bytes(fields[14]),
            start=int(fields[15]),
            expiry=int(fields[16]),
        )

    def status(self, request_id: int) -> Status:
        return Status(int(self._call("status_of", request_id)))

    def request_count(self) -> int:
        return int(self._call("request_count"))

    def is_active(self, request_id: int) -> bool:
        return bool(self._call("is_active", request_id))

    def active_grants(self, directory_id: bytes) -> list[int]:
        return [int(x) for x in self._call("active_grants", to_bytes32(directory_id))]

    def principal(self, directory_id: bytes) -> Principal:
        device, domain, status = self._call("principal", to_bytes32(directory_id))
        return Principal(
            to_bytes32(directory_id), to_checksum_address(device), bytes(domain), PrincipalStatus(int(status))
        )

    def principal_of(self, device: str) -> bytes:
        return bytes(self._call("principal_of", to_checksum_address(device)))

    def oracle_key(self, domain: bytes) -> bytes:
        """The oracle's X25519 public key for ``domain``: what a requester encrypts a new password to."""
        return bytes(self._call("oracle_enc_pubkey", to_bytes32(domain)))

    def council(self) -> Council:
        members = tuple(to_checksum_address(m) for m in self._call("council_members"))
        return Council(members, int(self._call("council_threshold")))

    def proposal_count(self) -> int:
        return int(self._call("proposal_count"))

    def proposal(self, proposal_id: int) -> Proposal:
        proposer, target, data, created, expires, approvals, executed, cancelled = self._call(
            "proposal", proposal_id
        )
        if int(created) == 0:
            raise SdkError(f"no proposal {proposal_id}")
        return Proposal(
            proposal_id,
            to_checksum_address(proposer),
            to_checksum_address(target),
            bytes(data),
            int(created),
            int(expires),
            int(approvals),
            bool(executed),
            bool(cancelled),
        )

    def policy(self, target: bytes) -> Policy:
        target = to_bytes32(target)
        (
            domain,
            required,
            max_duration,
            max_pending,
            self_service,
            enabled,
            bg_required,
            bg_max,
            bg_cooldown,
            unlock_limit,
            unlock_window,
        ) = self._call("policy", target)
        if bytes(domain) == ZERO32:
            raise SdkError(f"no policy for target 0x{target.hex()}")
        approvers = tuple(bytes(a) for a in self._call("policy_approvers", target))
        requesters = tuple(bytes(r) for r in self._call("policy_requesters", target))
        return Policy(
            target,
            bytes(domain),
            int(required),
            int(max_duration),
            int(max_pending),
            bool(self_service),
            bool(enabled),
            int(bg_required),
            int(bg_max),
            approvers,
            requesters,
            int(bg_cooldown),
            int(unlock_limit),
            int(unlock_window),
        )

    def policy_approvers(self, target: bytes, *, block: int | str = "latest") -> tuple[bytes, ...]:
        """The approver set of ``target`` at ``block`` (an old block needs a node that keeps its state)."""
        try:
            found = self._function("policy_approvers", to_bytes32(target)).call(block_identifier=block)
        except Exception as exc:
            revert = as_revert(exc)
            if revert is None:
                raise
            raise revert from exc
        return tuple(bytes(a) for a in found)

    def requirements(self, target: bytes) -> int:
        """What an elevation of ``target`` must carry: ``REQUIRE_JUSTIFICATION`` | ``REQUIRE_TICKET`` bits."""
        return int(self._call("requirements", to_bytes32(target)))

    def set_requirements(self, target: bytes, requirements: int) -> TxResult:
        """Governed (a proposal once bootstrap has ended)."""
        return self.governed("set_requirements", to_bytes32(target), int(requirements))

    def is_domain_oracle(self, domain: bytes, account: str) -> bool:
        """Whether ``account`` is one of the oracles of ``domain``."""
        return bool(self._call("is_domain_oracle", to_bytes32(domain), to_checksum_address(account)))

    def is_oracle(self, account: str) -> bool:
        """Whether ``account`` is a registered oracle of at least one domain."""
        return int(self._call("oracle_domain_count", to_checksum_address(account))) > 0

    def receipt(self, request_id: int, action: Action) -> Receipt | None:
        outcome, detail_hash, dc_id, oracle = self._call("receipt", request_id, int(action))[:4]
        if int(outcome) == 0:
            return None
        return Receipt(
            request_id,
            action,
            Outcome(int(outcome)),
            bytes(detail_hash),
            bytes(dc_id),
            to_checksum_address(oracle),
        )

    def events(
        self, from_block: int = 0, to_block: int | str = "latest", *, names: Iterable[str] = ()
    ) -> list[Event]:
        """Every pamchain event in the block range, in chain order; only the events ``names`` when given."""
        params: dict[str, Any] = {
            "address": self.addresses,
            "fromBlock": from_block,
            "toBlock": to_block,
        }
        wanted = list(names)
        if wanted:
            params["topics"] = [[self.decoder.topic(name) for name in wanted]]
        logs = self.w3.eth.get_logs(cast(FilterParams, params))
        return self.decoder.decode_all(logs)

    # -- access reviews ----------------------------------------------------------------------------------

    def _reviews(self) -> Any:
        if self.reviews_contract is None:
            raise SdkError(
                "this deployment has no PamReviews contract (deployed before access reviews): redeploy, or add "
                f'"{REVIEWS}": {{"address": ...}} to the deployment file'
            )
        return self.reviews_contract

    def open_campaign(
        self,
        scope: ReviewScope,
        subjects: Iterable[bytes],
        reviewer: Reviewer,
        on_lapse: LapseAction,
        deadline: int,
        label: bytes = ZERO32,
    ) -> TxResult:
        """Open an access-review campaign (governed: a council proposal once bootstrap is over). ``subjects`` are
        principals (:attr:`ReviewScope.PRINCIPALS`) or policy targets; ``deadline`` is a unix time."""
        self._reviews()
        return self.governed(
            "open_campaign",
            int(scope),
            [to_bytes32(s) for s in subjects],
            int(reviewer),
            int(on_lapse),
            int(deadline),
            to_bytes32(label),
        )

    def cancel_campaign(self, campaign_id: int) -> TxResult:
        """End a campaign without applying anything to its pending items (governed)."""
        self._reviews()
        return self.governed("cancel_campaign", campaign_id)

    def confirm_review(self, campaign_id: int, item_id: int) -> TxResult:
        """Re-confirm an item as its reviewer (this client's device)."""
        self._reviews()
        return self.transact("confirm", campaign_id, item_id)

    def confirm_reviews(self, campaign_id: int, item_ids: Sequence[int]) -> list[TxResult]:
        """Re-confirm several items back to back (one transaction each, one wait)."""
        self._reviews()
        return self.transact_all([("confirm", (campaign_id, item_id)) for item_id in item_ids])

    def lapse_review(self, campaign_id: int, item_id: int) -> TxResult:
        """Apply the campaign's lapse action to one item still pending at or after the deadline (anyone)."""
        self._reviews()
        return self.transact("lapse", campaign_id, item_id)

    def close_campaign(self, campaign_id: int, *, max_calls: int = 64) -> list[TxResult]:
        """Lapse every pending item and close the campaign (anyone, from the deadline on): ``close`` lapses at
        most 16 items per transaction, so this calls it until the campaign reads closed."""
        self._reviews()
        results = []
        for _ in range(max_calls):
            results.append(self.transact("close", campaign_id))
            if self.campaign(campaign_id).closed:
                return results
        raise SdkError(f"campaign {campaign_id} still open after {max_calls} close calls")

    def campaign_count(self) -> int:
        self._reviews()
        return int(self._call("campaign_count"))

    def campaign(self, campaign_id: int) -> Campaign:
        self._reviews()
        (scope, reviewer, on_lapse, label, opened, deadline, items, confirmed, lapsed, _cursor, closed) = (
            self._call("campaign", campaign_id)
        )
        if int(deadline) == 0:
            raise SdkError(f"no campaign {campaign_id}")
        return Campaign(
            campaign_id,
            ReviewScope(int(scope)),
            Reviewer(int(reviewer)),
            LapseAction(int(on_lapse)),
            bytes(label),
            int(opened),
            int(deadline),
            int(items),
            int(confirmed),
            int(lapsed),
            bool(closed),
        )

    def review_item(self, campaign_id: int, item_id: int) -> ReviewItem:
        principal, target, status, by, at = self._call("item", campaign_id, item_id)
        if int(status) == ItemStatus.NONE:
            raise SdkError(f"campaign {campaign_id} has no item {item_id}")
        return ReviewItem(
            campaign_id, item_id, bytes(principal), bytes(target), ItemStatus(int(status)), bytes(by), int(at)
        )

    def review_items(self, campaign_id: int) -> list[ReviewItem]:
        """Every item of a campaign, in item order."""
        return [self.review_item(campaign_id, i) for i in range(self.campaign(campaign_id).item_count)]

    def is_reviewer(self, campaign_id: int, item_id: int, directory_id: bytes) -> bool:
        """Whether ``directory_id`` (active) is the item's reviewer; pending and deadline aside."""
        self._reviews()
        return bool(self._call("is_reviewer", campaign_id, item_id, to_bytes32(directory_id)))

    def items_to_review(self, directory_id: bytes, campaign_id: int | None = None) -> list[ReviewItem]:
        """The pending items ``directory_id`` may confirm now, in open campaigns (or in one)."""
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        ids = [campaign_id] if campaign_id is not None else range(1, self.campaign_count() + 1)
        out: list[ReviewItem] = []
        for cid in ids:
            if self.campaign(cid).state(now) != "open":
                continue
            for item in self.review_items(cid):
                if item.status is ItemStatus.PENDING and self.is_reviewer(cid, item.id, directory_id):
                    out.append(item)
        return out

    # -- waiting -----------------------------------------------------------------------------------------

    def wait_for_status(self, request_id: int, statuses: Iterable[Status], timeout: float = 30.0) -> Status:
        wanted = frozenset(statuses)
        try:
            status: Status = wait_until(lambda: (s := self.status(request_id)) in wanted and s, timeout)
        except Timeout as exc:
            raise Timeout(
                f"request {request_id} still {self.status(request_id).name} after {timeout} s"
            ) from exc
        return status

    def wait_for_receipt(self, request_id: int, action: Action, timeout: float = 30.0) -> Receipt:
        try:
            receipt: Receipt = wait_until(lambda: self.receipt(request_id, action), timeout)
        except Timeout as exc:
            raise Timeout(f"no {action.name} receipt for request {request_id} after {timeout} s") from exc
        return receipt


def encode_assertion(authenticator_data: bytes, client_data_json: bytes, r: int, s: int) -> bytes:
    """A WebAuthn assertion as PamChain takes it: ABI-encoded ``(bytes, bytes, uint256, uint256, uint256,
    uint256)`` with where ``"type"`` and ``"challenge"`` start in the client data JSON."""
    from eth_abi import encode

    type_index, challenge_index = client_data_json.find(b'"type"'), client_data_json.find(b'"challenge"')
    if type_index < 0 or challenge_index < 0:
        raise SdkError("client data JSON without type or challenge")
    shaped = (authenticator_data, client_data_json, type_index, challenge_index, r, s)
    return encode(["(bytes,bytes,uint256,uint256,uint256,uint256)"], [shaped])


__all__ = [
    "Deployment",
    "PamClient",
    "TxResult",
    "abi_version",
    "connect",
    "encode_assertion",
    "revert_from_message",
]
