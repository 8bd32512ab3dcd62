# Over 500 lines on purpose: the typed client is the SDK's one surface over the deployment's contracts.
"""The typed client: every pamchain operation over any Ethereum JSON-RPC node, in the SDK's own types."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from pamchain.sdk.chain.abi import encode, parse_type, to_checksum_address
from pamchain.sdk.chain.deployment import (
    COUNCIL,
    DEPLOYABLE,
    FACTORS,
    NETWORK,
    REVIEWS,
    SUSPENDER_ROLE,
    Deployment,
    abi_version,
    suite_artifacts,
)
from pamchain.sdk.chain.events import Event
from pamchain.sdk.chain.jsonrpc import LogLimitExceeded, too_many_logs
from pamchain.sdk.chain.model import (
    ZERO32,
    Action,
    LapseAction,
    LeaverReason,
    Outcome,
    Receipt,
    Reviewer,
    ReviewScope,
    Status,
    to_bytes32,
)
from pamchain.sdk.chain.reader import Block, ChainReads
from pamchain.sdk.chain.transactions import Sender, as_revert, wait_until
from pamchain.sdk.errors import ConfigError, SdkError, Timeout, revert_from_message
from pamchain.sdk.sessions import pinned_session
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import BlockIdentifier, FilterParams, RPCEndpoint

BATCH_GAS = 1_500_000  # per call of a batch: above the dearest governed call (set_policy with 16 approvers)


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


def connect(rpc_url: str, *, timeout: float = 30.0) -> Web3:
    """A web3 connection to any JSON-RPC node; Clique's long extraData is accepted.

    The endpoint's chain id is asked once and remembered: web3's validation of every ``eth_call``,
    ``eth_estimateGas`` and transaction asks for it first (two more round trips a call otherwise). Proxy and
    CA bundle settings are read from the environment now, once (:func:`~pamchain.sdk.sessions.pinned_session`).
    """
    provider = Web3.HTTPProvider(
        rpc_url,
        session=pinned_session(rpc_url),
        request_kwargs={"timeout": timeout},
        cache_allowed_requests=True,
        cacheable_requests={RPCEndpoint("eth_chainId")},
    )
    w3 = Web3(provider)
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


class PamClient(ChainReads):
    """One account's handle on one pamchain deployment: PamChain, its Council and, when known, its PamNetwork and
    PamReviews.

    Every call is routed by function name to the contract that has it (PamChain first), so callers name what
    they want done, not where it lives. The reads are :class:`ChainReads`' (shared with the lean
    :class:`~pamchain.sdk.chain.reader.ChainReader`, through the same ABI layer); this class adds web3 transport and
    transactions.
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
        super().__init__(address, council=council, network=network, reviews=reviews)
        self.w3 = w3
        self._web3_contracts: dict[str, Any] = {}
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
            self.address,
            account,
            council=self.suite_address(COUNCIL),
            network=self.suite_address(NETWORK),
            reviews=self.suite_address(REVIEWS),
        )

    # -- web3 contract objects (for callers that build their own transactions) ----------------------------

    def _web3_contract(self, name: str | None) -> Any | None:
        """The suite's contract ``name`` as one web3 object per client (None when its address is unknown)."""
        address = None if name is None else self.suite_address(name)
        if name is None or address is None:
            return None
        if name not in self._web3_contracts:
            self._web3_contracts[name] = self.w3.eth.contract(
                address=cast(ChecksumAddress, address), abi=suite_artifacts(name)["abi"]
            )
        return self._web3_contracts[name]

    @functools.cached_property
    def contract(self) -> Any:
        """PamChain as a web3 contract."""
        return self._web3_contract(DEPLOYABLE)

    @functools.cached_property
    def council_contract(self) -> Any:
        """The deployment's Council (asked of PamChain on first use when the client was not told)."""
        return self._web3_contract(COUNCIL)

    @functools.cached_property
    def factors_contract(self) -> Any | None:
        """The deployment's PamFactors (asked of PamChain on first use; None when PamChain has none set)."""
        return self._web3_contract(FACTORS)

    @functools.cached_property
    def network_contract(self) -> Any | None:
        return self._web3_contract(NETWORK)

    @functools.cached_property
    def reviews_contract(self) -> Any | None:
        return self._web3_contract(REVIEWS)

    def contract_for(self, fn: str) -> Any | None:
        """The web3 contract of the deployment that has the function ``fn`` (routing as :meth:`_call` does)."""
        return self._web3_contract(self.contract_name_for(fn))

    # -- transport ---------------------------------------------------------------------------------------

    def _eth_call(self, to: str, data: bytes, block: Block) -> bytes:
        try:
            return bytes(
                self.w3.eth.call(
                    {"to": cast(ChecksumAddress, to), "data": cast(HexStr, "0x" + data.hex())},
                    cast(BlockIdentifier, block),
                )
            )
        except Exception as exc:
            revert = as_revert(exc)
            if revert is None:
                raise
            raise revert from exc

    def _get_logs(self, params: dict[str, Any]) -> list[Mapping[str, Any]]:
        try:
            return list(self.w3.eth.get_logs(cast(FilterParams, params)))
        except Web3RPCError as exc:
            response: Mapping[str, Any] = cast(Mapping[str, Any], exc.rpc_response or {})
            error = response.get("error")
            code = error.get("code") if isinstance(error, Mapping) else None
            message = str(error.get("message", exc)) if isinstance(error, Mapping) else str(exc)
            if too_many_logs(code, message):
                raise LogLimitExceeded(message) from exc
            raise

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def block_timestamp(self, block: Block = "latest") -> int:
        return int(self.w3.eth.get_block(cast(BlockIdentifier, block))["timestamp"])

    # -- sending -----------------------------------------------------------------------------------------

    def _signing(self) -> Sender:
        if self._sender is None:
            raise SdkError("this client has no account: it can only read")
        return self._sender

    def _encode(self, fn: str, *args: Any) -> str:
        return "0x" + self._route(fn)[1].encode_call(*args).hex()

    def _to(self, fn: str) -> str:
        return self._route(fn)[0]

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
            from pamchain.sdk.payloads.justification import justification_hash as salted

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
        from pamchain.sdk.chain.events import RequestCreated

        created: RequestCreated = result.first(RequestCreated)
        return created.request_id

    def approve(self, request_id: int) -> TxResult:
        return self.transact("approve", request_id)

    def deny(self, request_id: int, reason: str = "") -> TxResult:
        from pamchain.sdk.payloads.justification import justification_hash as salted

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

    def approve_with_assertion(self, request_id: int, assertion: bytes) -> TxResult:
        """Approve with the approver's WebAuthn assertion, ABI-encoded (see :func:`encode_assertion`)."""
        return self.transact("approve_with_assertion", request_id, assertion)

    def set_authenticator(self, directory_id: bytes, x: int, y: int) -> TxResult:
        """Register a principal's passkey (P-256 public key) in PamFactors (governed)."""
        return self.governed("set_authenticator", to_bytes32(directory_id), (x, y))

    def remove_authenticator(self, directory_id: bytes) -> TxResult:
        """Drop a principal's passkey (lost or replaced phone; governed)."""
        return self.governed("remove_authenticator", to_bytes32(directory_id))

    def set_node(self, node_id: bytes, allowed: bool) -> TxResult:
        """Allow or disallow a node (``node_id`` = keccak256 of its 64-byte public key) on PamNetwork."""
        return self.governed("set_node", to_bytes32(node_id), allowed)

    def set_leaver_rule(self, domain: bytes, auto_suspend: bool) -> TxResult:
        """Decide in advance what a leaver report on ``domain`` does: suspend (and end every grant) or alarm only."""
        return self.governed("set_leaver_rule", to_bytes32(domain), bool(auto_suspend))

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

    def set_requirements(self, target: bytes, requirements: int) -> TxResult:
        """Governed (a proposal once bootstrap has ended)."""
        return self.governed("set_requirements", to_bytes32(target), int(requirements))

    # -- access reviews ----------------------------------------------------------------------------------

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
    type_index, challenge_index = client_data_json.find(b'"type"'), client_data_json.find(b'"challenge"')
    if type_index < 0 or challenge_index < 0:
        raise SdkError("client data JSON without type or challenge")
    shaped = (authenticator_data, client_data_json, type_index, challenge_index, r, s)
    return encode([_ASSERTION], [shaped])


_ASSERTION = parse_type(
    {"type": "tuple", "components": [{"type": t} for t in ("bytes", "bytes", *["uint256"] * 4)]}
)


__all__ = [
    "SUSPENDER_ROLE",
    "Deployment",
    "PamClient",
    "TxResult",
    "abi_version",
    "connect",
    "encode_assertion",
    "revert_from_message",
    "suite_artifacts",
]
