"""Every read of a deployment, written once over the shared ABI layer; and the lean reader that needs no web3.

:class:`ChainReads` holds the reads (requests, principals, policies, the council, receipts, reviews, events) in
the SDK's records. It asks its subclass for four primitives only: ``eth_call``, ``eth_getLogs``, the head's
number and a block's time. :class:`~pamchain.sdk.chain.client.PamClient` provides them through web3 (and adds
transactions); :class:`ChainReader` through :class:`~pamchain.sdk.chain.jsonrpc.ChainRpc`, so that read-only
commands skip the ~1 s of importing them: this module imports neither web3 nor eth_abi.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pamchain.sdk.chain.abi import Function, suite_abi, to_checksum_address
from pamchain.sdk.chain.deployment import (
    COUNCIL,
    DEPLOYABLE,
    FACTORS,
    NETWORK,
    REVIEWS,
    SUITE,
    Deployment,
    abi_version,
)
from pamchain.sdk.chain.events import Event, EventDecoder, GenericEvent
from pamchain.sdk.chain.jsonrpc import ChainRpc, LogLimitExceeded, RpcError, too_many_logs
from pamchain.sdk.chain.model import (
    ZERO32,
    Action,
    Campaign,
    Council,
    ItemStatus,
    Kind,
    LapseAction,
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
from pamchain.sdk.errors import ConfigError, SdkError, revert_from_message

Block = int | str  # a block number, or "latest" / "pending" / ...
_ASKED_OF_PAMCHAIN = {COUNCIL: "council", FACTORS: "factors"}  # contract -> PamChain's getter of its address


class ChainReads:
    """The deployment's read-only calls, in the SDK's records; subclasses supply the transport.

    Calls are routed by function name to the contract that has it (PamChain first, in :data:`SUITE` order),
    so callers name what they want to know, not where it lives.
    """

    def __init__(
        self,
        address: str,
        *,
        council: str | None = None,
        network: str | None = None,
        reviews: str | None = None,
    ) -> None:
        # name -> address; absent: ask PamChain (council, factors); None: this deployment has none / unknown.
        self._suite: dict[str, str | None] = {
            DEPLOYABLE: to_checksum_address(address),
            NETWORK: None if network is None else to_checksum_address(network),
            REVIEWS: None if reviews is None else to_checksum_address(reviews),
        }
        if council is not None:
            self._suite[COUNCIL] = to_checksum_address(council)
        self._decoder: EventDecoder | None = None

    # -- transport (subclasses) --------------------------------------------------------------------------

    def _eth_call(self, to: str, data: bytes, block: Block) -> bytes:
        """The return data of a call; a revert raises the domain error its reason names."""
        raise NotImplementedError

    def _get_logs(self, params: dict[str, Any]) -> list[Mapping[str, Any]]:
        """``eth_getLogs`` (``fromBlock``/``toBlock`` as ints or tags) as the transport serves logs."""
        raise NotImplementedError

    def block_number(self) -> int:
        raise NotImplementedError

    def block_timestamp(self, block: Block = "latest") -> int:
        raise NotImplementedError

    # -- routing -----------------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """PamChain's address."""
        return str(self._suite[DEPLOYABLE])

    def suite_address(self, name: str) -> str | None:
        """The address of the suite's contract ``name``; the Council and PamFactors are asked of PamChain."""
        if name not in self._suite:
            if name not in _ASKED_OF_PAMCHAIN:
                return None
            found = to_checksum_address(self._call_on(DEPLOYABLE, _ASKED_OF_PAMCHAIN[name]))
            self._suite[name] = None if int(found, 16) == 0 else found
        return self._suite[name]

    def contract_name_for(self, fn: str) -> str | None:
        """Which of the suite's contracts (with a known address) has the function ``fn``."""
        for name in SUITE:
            if fn in suite_abi(name).functions and self.suite_address(name) is not None:
                return name
        return None

    def _no_contract(self, fn: str) -> SdkError:
        unknown = [name for name in (NETWORK, REVIEWS) if self._suite.get(name) is None]
        return SdkError(
            f"no contract of this deployment has {fn}()"
            + (f" ({' and '.join(unknown)} address unknown)" if unknown else "")
        )

    def _route(self, fn: str) -> tuple[str, Function]:
        name = self.contract_name_for(fn)
        if name is None:
            raise self._no_contract(fn)
        return str(self.suite_address(name)), suite_abi(name).functions[fn]

    def _call(self, fn: str, *args: Any, block: Block = "latest") -> Any:
        to, function = self._route(fn)
        return function.decode_result(self._eth_call(to, function.encode_call(*args), block))

    def _call_on(self, name: str, fn: str, *args: Any) -> Any:
        function = suite_abi(name).functions[fn]
        return function.decode_result(
            self._eth_call(str(self._suite[name]), function.encode_call(*args), "latest")
        )

    def describe_call(self, to: str, data: bytes) -> tuple[str, dict[str, Any]] | None:
        """A call's function name and arguments, if ``to`` is one of the suite's contracts and has it."""
        for name in SUITE:
            address = self.suite_address(name)
            if address is not None and address.lower() == to.lower():
                function = suite_abi(name).function_for_call(data)
                if function is not None:
                    return function.name, function.decode_input(data)
        return None

    # -- events ------------------------------------------------------------------------------------------

    @property
    def decoder(self) -> EventDecoder:
        if self._decoder is None:
            known = ((name, self.suite_address(name)) for name in SUITE)
            self._decoder = EventDecoder(*((a, suite_abi(n)) for n, a in known if a is not None))
        return self._decoder

    @property
    def addresses(self) -> list[str]:
        """Every contract of the deployment this reader knows (what an event filter should cover)."""
        return list(self.decoder.addresses)

    def events(
        self, from_block: int = 0, to_block: Block = "latest", *, names: Iterable[str] = ()
    ) -> list[Event]:
        """Every pamchain event in the block range, in chain order; only the events ``names`` when given."""
        params: dict[str, Any] = {"address": self.addresses, "fromBlock": from_block, "toBlock": to_block}
        wanted = list(names)
        if wanted:
            params["topics"] = [[self.decoder.topic(name) for name in wanted]]
        return self.decoder.decode_all(logs_in_range(self._get_logs, params, self.block_number))

    # -- requests and grants -----------------------------------------------------------------------------

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

    def approval_challenge(self, request_id: int, approver_id: bytes) -> bytes:
        """What the approver's passkey signs to approve ``request_id`` (a WebAuthn challenge)."""
        return bytes(self._call("approval_challenge", request_id, to_bytes32(approver_id)))

    # -- principals, oracles, nodes ----------------------------------------------------------------------

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

    def is_domain_oracle(self, domain: bytes, account: str) -> bool:
        """Whether ``account`` is one of the oracles of ``domain``."""
        return bool(self._call("is_domain_oracle", to_bytes32(domain), to_checksum_address(account)))

    def is_oracle(self, account: str) -> bool:
        """Whether ``account`` is a registered oracle of at least one domain."""
        return int(self._call("oracle_domain_count", to_checksum_address(account))) > 0

    def has_factor(self, directory_id: bytes) -> bool:
        return bool(self._call("has_factor", to_bytes32(directory_id)))

    def authenticator(self, directory_id: bytes) -> tuple[int, int]:
        """A principal's registered passkey public key (x, y); (0, 0) when none."""
        x, y = self._call("authenticator", to_bytes32(directory_id))
        return int(x), int(y)

    def leaver_auto_suspend(self, domain: bytes) -> bool:
        return bool(self._call("leaver_auto_suspend", to_bytes32(domain)))

    def is_node_allowed(self, node_id: bytes) -> bool:
        return bool(self._call("is_node_allowed", to_bytes32(node_id)))

    # -- governance --------------------------------------------------------------------------------------

    def bootstrapping(self) -> bool:
        return bool(self._call("bootstrapping"))

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

    def policy_approvers(self, target: bytes, *, block: Block = "latest") -> tuple[bytes, ...]:
        """The approver set of ``target`` after ``block``: the contract's at the head; at an older block, the
        approvers of the last ``PolicySet`` of ``target`` up to it (the only place the set changes), because a
        node keeps the state of its recent blocks only (docs/node.md, "State pruning") but every log."""
        if block == "latest":
            return tuple(bytes(a) for a in self._call("policy_approvers", to_bytes32(target)))
        params: dict[str, Any] = {
            "address": self.addresses,
            "fromBlock": 0,
            "toBlock": block,
            "topics": [self.decoder.topic("PolicySet"), "0x" + to_bytes32(target).hex()],
        }
        changes = [
            e
            for e in self.decoder.decode_all(logs_in_range(self._get_logs, params, self.block_number))
            if isinstance(e, GenericEvent) and e.event == "PolicySet"
        ]
        return tuple(bytes(a) for a in changes[-1].args["approvers"]) if changes else ()

    def requirements(self, target: bytes) -> int:
        """What an elevation of ``target`` must carry: ``REQUIRE_JUSTIFICATION`` | ``REQUIRE_TICKET`` bits."""
        return int(self._call("requirements", to_bytes32(target)))

    # -- access reviews ----------------------------------------------------------------------------------

    def _reviews(self) -> str:
        address = self._suite.get(REVIEWS)
        if address is None:
            raise SdkError(
                "this deployment has no PamReviews contract (deployed before access reviews): redeploy, or add "
                f'"{REVIEWS}": {{"address": ...}} to the deployment file'
            )
        return address

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
        now = self.block_timestamp()
        ids = [campaign_id] if campaign_id is not None else range(1, self.campaign_count() + 1)
        out: list[ReviewItem] = []
        for cid in ids:
            if self.campaign(cid).state(now) != "open":
                continue
            for item in self.review_items(cid):
                if item.status is ItemStatus.PENDING and self.is_reviewer(cid, item.id, directory_id):
                    out.append(item)
        return out


class ChainReader(ChainReads):
    """Reads of one deployment over raw JSON-RPC: what read-only commands use (no web3, no eth_abi)."""

    def __init__(
        self,
        rpc: ChainRpc,
        address: str,
        *,
        council: str | None = None,
        network: str | None = None,
        reviews: str | None = None,
    ) -> None:
        super().__init__(address, council=council, network=network, reviews=reviews)
        self.rpc = rpc

    @classmethod
    def from_deployment(cls, rpc: ChainRpc, deployment: Deployment) -> ChainReader:
        """A reader of ``deployment``, refused (as the typed client refuses it) on another ABI or chain; an
        absent node is said first (``NodeUnavailable``), as the CLI's connection probe always said it."""
        chain_id = int(rpc.call("eth_chainId"), 16)
        if abi_version() != deployment.abi_version:
            raise ConfigError(
                f"deployment speaks ABI {deployment.abi_version}, this SDK speaks {abi_version()}: upgrade one of them"
            )
        if chain_id != deployment.chain_id:
            raise ConfigError(f"node is chain {chain_id}, the deployment is on chain {deployment.chain_id}")
        return cls(
            rpc,
            deployment.address,
            council=deployment.council,
            network=deployment.network,
            reviews=deployment.reviews,
        )

    def _eth_call(self, to: str, data: bytes, block: Block) -> bytes:
        try:
            result = self.rpc.call("eth_call", {"to": to, "data": "0x" + data.hex()}, _tag(block))
        except RpcError as exc:
            if "revert" in exc.rpc_message:
                raise revert_from_message(exc.rpc_message) from exc
            raise
        return bytes.fromhex(str(result).removeprefix("0x"))

    def _get_logs(self, params: dict[str, Any]) -> list[Mapping[str, Any]]:
        query = {**params, "fromBlock": _tag(params["fromBlock"]), "toBlock": _tag(params["toBlock"])}
        try:
            return list(self.rpc.call("eth_getLogs", query))
        except RpcError as exc:
            if too_many_logs(exc.code, exc.rpc_message):
                raise LogLimitExceeded(exc.rpc_message) from exc
            raise

    def block_number(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def block_timestamp(self, block: Block = "latest") -> int:
        found = self.rpc.call("eth_getBlockByNumber", _tag(block), False)
        if found is None:
            raise SdkError(f"the node has no block {block}")
        return int(found["timestamp"], 16)


def logs_in_range(
    get_logs: Callable[[dict[str, Any]], list[Mapping[str, Any]]],
    params: dict[str, Any],
    head: Callable[[], int],
) -> list[Mapping[str, Any]]:
    """``eth_getLogs`` for ``params``, in chain order, whatever the node's limits: a range the node refuses as
    too large (``LogLimitExceeded``: too many blocks or results) is halved until each part is answered. A busy
    chain must not stop an oracle or an audit that asks for a fixed window of blocks. Only a single block
    with more logs than the node answers at once is an error, and it says which limit to raise."""
    try:
        return get_logs(params)
    except LogLimitExceeded as exc:
        first, last = params["fromBlock"], params["toBlock"]
        last = head() if last == "latest" else last
        if not isinstance(first, int) or not isinstance(last, int):
            raise
        if last <= first:
            raise LogLimitExceeded(
                f"block {first} alone holds more matching logs than the node returns in one query ({exc}); "
                "raise its limit (pamchain node run --rpc-logs-max-results)"
            ) from exc
        middle = (first + last) // 2
        return logs_in_range(
            get_logs, {**params, "fromBlock": first, "toBlock": middle}, head
        ) + logs_in_range(get_logs, {**params, "fromBlock": middle + 1, "toBlock": last}, head)


def _tag(block: Block) -> str:
    return hex(block) if isinstance(block, int) else block


__all__ = ["Block", "ChainReader", "ChainReads"]
