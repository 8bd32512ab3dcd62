# Over 500 lines on purpose: the whole genesis format (fork schedule, Clique, permissioning, free gas) is read and written in one place, so a field cannot be parsed one way and written another.
"""Load, validate and produce geth-format ``genesis.json`` documents, with pamchain's permissioning section.

A genesis selects everything that is fixed for the life of a network: chain id, fork schedule, consensus
(Clique with its signer list in ``extraData``, or none for chains imported from elsewhere) and the account
allowlist. The chain layer turns the fork schedule into py-evm VM classes; this module stays free of py-evm.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import rlp
from eth_hash.auto import keccak
from eth_utils import is_hex_address, to_canonical_address, to_checksum_address

from .errors import GenesisError

# An address given as bytes or text (a dict keyed by either, or by eth_typing's ChecksumAddress, is accepted).
_AddressT = TypeVar("_AddressT", bound=bytes | str)

VANITY_LENGTH = 32
SIGNATURE_LENGTH = 65
ADDRESS_LENGTH = 20
DEFAULT_EPOCH = 30_000
DEFAULT_GAS_LIMIT = 30_000_000
DEFAULT_BASE_FEE = 1_000_000_000  # 1 gwei: web3.py's default fee strategies work unchanged
#: EIP-1559's elasticity: a block may use up to twice its gas target (``gasLimit // 2``).
ELASTICITY_MULTIPLIER = 2
LONDON_FORKS = ("london", "arrow_glacier", "gray_glacier", "paris", "shanghai", "cancun", "prague")
#: ``bytes4(keccak("is_account_allowed(address)"))`` - the view a permission contract must expose.
PERMISSION_SELECTOR = keccak(b"is_account_allowed(address)")[:4]
#: The views a node permission contract must expose (PamNetwork): ``is_node_allowed(keccak256(pubkey))`` and
#: ``node_count()`` (zero: the contract does not decide yet, the genesis ``nodeAllowlist`` does).
NODE_ALLOWED_SELECTOR = keccak(b"is_node_allowed(bytes32)")[:4]
NODE_COUNT_SELECTOR = keccak(b"node_count()")[:4]

# geth's config keys in activation order, mapped to the fork names the chain layer understands.
# Paris is activated by ``mergeNetsplitBlock`` (a block number, as geth records it for merged chains).
BLOCK_FORKS: tuple[tuple[str, str], ...] = (
    ("homesteadBlock", "homestead"),
    ("eip150Block", "tangerine_whistle"),
    ("eip158Block", "spurious_dragon"),
    ("byzantiumBlock", "byzantium"),
    ("constantinopleBlock", "constantinople"),
    ("petersburgBlock", "petersburg"),
    ("istanbulBlock", "istanbul"),
    ("muirGlacierBlock", "muir_glacier"),
    ("berlinBlock", "berlin"),
    ("londonBlock", "london"),
    ("arrowGlacierBlock", "arrow_glacier"),
    ("grayGlacierBlock", "gray_glacier"),
    ("mergeNetsplitBlock", "paris"),
)
TIME_FORKS: tuple[tuple[str, str], ...] = (
    ("shanghaiTime", "shanghai"),
    ("cancunTime", "cancun"),
    ("pragueTime", "prague"),
)
UNSUPPORTED_FORKS = ("osakaTime", "verkleTime", "bpo1Time")


@dataclass(frozen=True)
class ForkActivation:
    """One fork switch-on: ``kind`` is ``"block"`` (number) or ``"time"`` (timestamp)."""

    name: str
    kind: str
    at: int


@dataclass(frozen=True)
class ForkSchedule:
    """Ordered fork activations; ``frontier`` at block 0 is implicit."""

    activations: tuple[ForkActivation, ...]

    def fork_at(self, number: int, timestamp: int) -> str:
        """Name of the fork ruling a block with this number and timestamp."""
        current = "frontier"
        for act in self.activations:
            if (act.kind == "block" and number >= act.at) or (act.kind == "time" and timestamp >= act.at):
                current = act.name
        return current


@dataclass(frozen=True)
class CliqueConfig:
    """EIP-225 parameters: ``period`` seconds between blocks (0 = on demand), ``epoch`` checkpoint interval."""

    period: int
    epoch: int


@dataclass(frozen=True)
class PermissionConfig:
    """Who may send transactions: the bootstrap ``allowlist`` always; everyone else if ``contract`` says so.

    An empty allowlist with no contract means the network is open (no permissioning).
    """

    allowlist: frozenset[bytes] = frozenset()
    contract: bytes | None = None
    node_contract: bytes | None = None  # the node permission contract (PamNetwork), if any

    @property
    def enabled(self) -> bool:
        return bool(self.allowlist) or self.contract is not None


@dataclass(frozen=True)
class AllocAccount:
    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Genesis:
    """A validated genesis document; ``raw`` keeps the original JSON for ``node init`` and export."""

    chain_id: int
    schedule: ForkSchedule
    clique: CliqueConfig | None
    signers: tuple[bytes, ...]
    permissions: PermissionConfig
    alloc: Mapping[bytes, AllocAccount]
    gas_limit: int
    base_fee: int | None
    timestamp: int
    extra_data: bytes
    difficulty: int
    coinbase: bytes
    mix_hash: bytes
    nonce: bytes
    excess_blob_gas: int | None
    blob_gas_used: int | None
    raw: Mapping[str, Any]

    @property
    def p256_verify(self) -> bool:
        """``config.pamchain.p256Verify``: Prague plus EIP-7951's P256VERIFY precompile at ``0x100`` (what a
        contract needs to check a WebAuthn assertion). Absent or false: plain Prague."""
        pam = self.raw.get("config", {}).get("pamchain") or {}
        return pam.get("p256Verify") is True

    @property
    def zero_base_fee(self) -> bool:
        """``config.pamchain.zeroBaseFee``: a free-gas network (docs/node.md, "Free gas"). The genesis base fee is
        0 and every block stays at or under its gas target, so EIP-1559's own arithmetic keeps the base fee at 0
        forever; permitted senders may then send zero-price transactions, within per-account pool limits."""
        pam = self.raw.get("config", {}).get("pamchain") or {}
        return pam.get("zeroBaseFee") is True

    def block_gas_budget(self, gas_limit: int) -> int:
        """Most gas a block with this gas limit may use: the limit, or on a zero-base-fee chain the EIP-1559
        gas target (a block above it would raise the base fee to 1 wei, and below 8 wei it never falls back)."""
        return gas_limit // ELASTICITY_MULTIPLIER if self.zero_base_fee else gas_limit

    @property
    def node_allowlist(self) -> tuple[str, ...] | None:
        """``config.pamchain.nodeAllowlist``: node ids/addresses allowed to peer (None: any node may)."""
        pam = self.raw.get("config", {}).get("pamchain") or {}
        allow = pam.get("nodeAllowlist")
        return None if allow is None else tuple(allow)

    def to_json(self) -> str:
        return json.dumps(self.raw, indent=2, sort_keys=False) + "\n"


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise GenesisError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        try:
            result = int(value, 16) if value.lower().startswith("0x") else int(value, 10)
        except ValueError as exc:
            raise GenesisError(f"{what}: not a number: {value!r}") from exc
    else:
        raise GenesisError(f"{what}: expected a number, got {value!r}")
    if result < 0:
        raise GenesisError(f"{what}: must not be negative")
    return result


def _bytes(value: Any, what: str, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise GenesisError(f"{what}: expected 0x-prefixed hex, got {value!r}")
    digits = value[2:]
    if len(digits) % 2:
        digits = "0" + digits
    try:
        data = bytes.fromhex(digits)
    except ValueError as exc:
        raise GenesisError(f"{what}: invalid hex") from exc
    if length is not None and len(data) != length:
        raise GenesisError(f"{what}: expected {length} bytes, got {len(data)}")
    return data


def _address(value: Any, what: str) -> bytes:
    if isinstance(value, str) and not value.startswith(("0x", "0X")) and len(value) == 40:
        value = "0x" + value  # geth's alloc keys are often unprefixed
    if not isinstance(value, str) or not is_hex_address(value):
        raise GenesisError(f"{what}: not an address: {value!r}")
    return bytes(to_canonical_address(value))


def _schedule(config: Mapping[str, Any]) -> ForkSchedule:
    for key in UNSUPPORTED_FORKS:
        if key in config:
            raise GenesisError(f"config.{key}: fork not supported by this node (py-evm stops at Prague)")
    activations: list[ForkActivation] = []
    last_block = 0
    for key, name in BLOCK_FORKS:
        if key in config and config[key] is not None:
            at = _int(config[key], f"config.{key}")
            if at < last_block:
                raise GenesisError(f"config.{key}: forks must activate in order ({at} < {last_block})")
            last_block = at
            activations.append(ForkActivation(name, "block", at))
    if "eip155Block" in config and _int(config["eip155Block"], "config.eip155Block") != (
        _int(config.get("eip158Block", 0), "config.eip158Block")
    ):
        raise GenesisError(
            "config.eip155Block must equal eip158Block (py-evm activates both at Spurious Dragon)"
        )
    last_time = 0
    for key, name in TIME_FORKS:
        if key in config and config[key] is not None:
            if not any(a.name == "paris" for a in activations):
                raise GenesisError(f"config.{key}: time-based forks need mergeNetsplitBlock (Paris) first")
            at = _int(config[key], f"config.{key}")
            if at < last_time:
                raise GenesisError(f"config.{key}: forks must activate in order")
            last_time = at
            activations.append(ForkActivation(name, "time", at))
    return ForkSchedule(tuple(activations))


def parse_clique_extra_data(extra: bytes) -> tuple[bytes, ...]:
    """Signers from a checkpoint ``extraData``: 32 vanity bytes, N*20 signer bytes, 65 seal bytes."""
    body = len(extra) - VANITY_LENGTH - SIGNATURE_LENGTH
    if body < 0 or body % ADDRESS_LENGTH:
        raise GenesisError(
            "extraData: Clique needs 32 vanity bytes + N*20 signer bytes + 65 seal bytes, "
            f"got {len(extra)} bytes"
        )
    signers = tuple(
        extra[VANITY_LENGTH + i : VANITY_LENGTH + i + ADDRESS_LENGTH] for i in range(0, body, ADDRESS_LENGTH)
    )
    if not signers:
        raise GenesisError("extraData: a Clique genesis needs at least one signer")
    if list(signers) != sorted(set(signers)):
        raise GenesisError("extraData: signers must be unique and sorted ascending (as geth writes them)")
    return signers


def clique_extra_data(signers: Iterable[bytes], vanity: bytes = b"") -> bytes:
    """The checkpoint ``extraData`` for ``signers`` (sorted, as EIP-225 requires)."""
    if len(vanity) > VANITY_LENGTH:
        raise GenesisError("vanity is at most 32 bytes")
    ordered = sorted(set(signers))
    return vanity.ljust(VANITY_LENGTH, b"\0") + b"".join(ordered) + b"\0" * SIGNATURE_LENGTH


def contract_address(deployer: bytes, nonce: int) -> bytes:
    """CREATE address of the contract ``deployer`` deploys with ``nonce`` (lets genesis name it in advance)."""
    return keccak(rlp.encode([deployer, nonce]))[12:]


def parse_genesis(doc: Mapping[str, Any]) -> Genesis:
    """Validate a decoded genesis document."""
    if not isinstance(doc, Mapping):
        raise GenesisError("genesis: expected a JSON object")
    config = doc.get("config")
    if not isinstance(config, Mapping):
        raise GenesisError("genesis: missing 'config' object")
    if "chainId" not in config:
        raise GenesisError("config.chainId is required")
    chain_id = _int(config["chainId"], "config.chainId")
    if chain_id == 0:
        raise GenesisError("config.chainId must be positive")
    schedule = _schedule(config)

    extra_data = _bytes(doc.get("extraData", "0x"), "extraData")
    clique: CliqueConfig | None = None
    signers: tuple[bytes, ...] = ()
    if "clique" in config and config["clique"] is not None:
        section = config["clique"]
        if not isinstance(section, Mapping):
            raise GenesisError("config.clique must be an object")
        period = _int(section.get("period", 0), "config.clique.period")
        epoch = _int(section.get("epoch", DEFAULT_EPOCH), "config.clique.epoch")
        if epoch == 0:
            raise GenesisError("config.clique.epoch must be positive")
        clique = CliqueConfig(period=period, epoch=epoch)
        signers = parse_clique_extra_data(extra_data)
        if schedule.fork_at(1, 2**63) in ("frontier", "homestead", "tangerine_whistle"):
            raise GenesisError("a Clique pamchain genesis needs at least Spurious Dragon (EIP-155 chain ids)")

    permissions = PermissionConfig()
    pam = config.get("pamchain")
    if pam is not None:
        if not isinstance(pam, Mapping):
            raise GenesisError("config.pamchain must be an object")
        allow = pam.get("allowlist", [])
        if not isinstance(allow, list):
            raise GenesisError("config.pamchain.allowlist must be a list of addresses")
        contract = pam.get("permissionContract")
        node_contract = pam.get("nodePermissionContract")
        if not isinstance(pam.get("p256Verify", False), bool):
            raise GenesisError("config.pamchain.p256Verify must be true or false")
        if not isinstance(pam.get("zeroBaseFee", False), bool):
            raise GenesisError("config.pamchain.zeroBaseFee must be true or false")
        nodes = pam.get("nodeAllowlist")
        if nodes is not None and (not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes)):
            raise GenesisError(
                "config.pamchain.nodeAllowlist must be a list of node ids or pamchain:// addresses"
            )
        permissions = PermissionConfig(
            allowlist=frozenset(_address(a, "config.pamchain.allowlist[]") for a in allow),
            contract=_address(contract, "config.pamchain.permissionContract") if contract else None,
            node_contract=(
                _address(node_contract, "config.pamchain.nodePermissionContract") if node_contract else None
            ),
        )

    raw_alloc = doc.get("alloc", {})
    if not isinstance(raw_alloc, Mapping):
        raise GenesisError("alloc must be an object")
    alloc: dict[bytes, AllocAccount] = {}
    for key, acct in raw_alloc.items():
        addr = _address(key, f"alloc[{key}]")
        if not isinstance(acct, Mapping):
            raise GenesisError(f"alloc[{key}] must be an object")
        storage_raw = acct.get("storage", {}) or {}
        alloc[addr] = AllocAccount(
            balance=_int(acct.get("balance", 0), f"alloc[{key}].balance"),
            nonce=_int(acct.get("nonce", 0), f"alloc[{key}].nonce"),
            code=_bytes(acct.get("code", "0x"), f"alloc[{key}].code"),
            storage={
                _int(k, f"alloc[{key}].storage key"): _int(v, f"alloc[{key}].storage value")
                for k, v in storage_raw.items()
            },
        )

    def opt(name: str) -> int | None:
        value = doc.get(name)
        return None if value is None else _int(value, name)

    nonce_raw = doc.get("nonce", "0x0")
    nonce_int = _int(nonce_raw, "nonce")
    if nonce_int >= 2**64:
        raise GenesisError("nonce: at most 8 bytes")
    gas_limit = _int(doc.get("gasLimit", hex(DEFAULT_GAS_LIMIT)), "gasLimit")
    if gas_limit < 5000:
        raise GenesisError("gasLimit: at least 5000")
    base_fee = opt("baseFeePerGas")
    london_at_genesis = schedule.fork_at(0, _int(doc.get("timestamp", 0), "timestamp")) in LONDON_FORKS
    if pam is not None and pam.get("zeroBaseFee") is True:
        if not london_at_genesis:
            raise GenesisError("config.pamchain.zeroBaseFee needs London (EIP-1559) active at block 0")
        if base_fee not in (None, 0):
            raise GenesisError("config.pamchain.zeroBaseFee needs baseFeePerGas 0x0")
        if not permissions.enabled:
            # Free gas for anyone is free spam for anyone: only permitted accounts may send zero-price.
            raise GenesisError(
                "config.pamchain.zeroBaseFee needs account permissioning (allowlist or contract)"
            )
        base_fee = 0
    if base_fee is None and london_at_genesis:
        base_fee = DEFAULT_BASE_FEE  # geth's default initial base fee
    return Genesis(
        chain_id=chain_id,
        schedule=schedule,
        clique=clique,
        signers=signers,
        permissions=permissions,
        alloc=alloc,
        gas_limit=gas_limit,
        base_fee=base_fee,
        timestamp=_int(doc.get("timestamp", 0), "timestamp"),
        extra_data=extra_data,
        difficulty=_int(doc.get("difficulty", "0x1" if clique else "0x0"), "difficulty"),
        coinbase=_address(doc.get("coinbase", "0x" + "00" * 20), "coinbase"),
        mix_hash=_bytes(doc.get("mixHash", "0x" + "00" * 32), "mixHash", 32),
        nonce=nonce_int.to_bytes(8, "big"),
        excess_blob_gas=opt("excessBlobGas"),
        blob_gas_used=opt("blobGasUsed"),
        raw=dict(doc),
    )


def load_genesis(source: str | Path | Mapping[str, Any]) -> Genesis:
    """Load and validate a genesis from a path or an already-decoded mapping."""
    if isinstance(source, Mapping):
        return parse_genesis(source)
    try:
        doc = json.loads(Path(source).read_text())
    except OSError as exc:
        raise GenesisError(f"cannot read genesis {source}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise GenesisError(f"genesis {source} is not valid JSON: {exc}") from exc
    return parse_genesis(doc)


def make_genesis(
    signers: Iterable[bytes | str],
    chain_id: int,
    alloc: Mapping[_AddressT, int] | None = None,
    *,
    period: int = 1,
    epoch: int = DEFAULT_EPOCH,
    gas_limit: int = DEFAULT_GAS_LIMIT,
    base_fee: int = DEFAULT_BASE_FEE,
    timestamp: int | None = None,
    allowlist: Iterable[bytes | str] | None = None,
    permission_contract: bytes | str | None = None,
    node_permission_contract: bytes | str | None = None,
    extra_alloc: Mapping[str, Mapping[str, Any]] | None = None,
    node_allowlist: Iterable[str] | None = None,
    p256_verify: bool = True,
    zero_base_fee: bool = False,
) -> dict[str, Any]:
    """A geth-format genesis document for a new pamchain network (Clique, every fork up to Prague at 0).

    ``allowlist`` defaults to the signers plus every funded account, so a fresh network can bootstrap the
    permission contract; pass an explicit list to narrow it. ``zero_base_fee``: a free-gas network (base fee 0,
    ``base_fee`` ignored), where permitted accounts transact without a balance.
    """
    signer_addrs = [_address(s if isinstance(s, str) else "0x" + s.hex(), "signer") for s in signers]
    if not signer_addrs:
        raise GenesisError("at least one signer is required")
    funded = {
        _address(k if isinstance(k, str) else "0x" + k.hex(), "alloc"): int(v)
        for k, v in (alloc or {}).items()
    }
    allowed = (
        [_address(a if isinstance(a, str) else "0x" + a.hex(), "allowlist") for a in allowlist]
        if allowlist is not None
        else sorted(set(signer_addrs) | set(funded))
    )
    config: dict[str, Any] = {"chainId": chain_id}
    for key, _name in BLOCK_FORKS:
        config[key] = 0
    config["eip155Block"] = 0
    for key, _name in TIME_FORKS:
        config[key] = 0
    config["clique"] = {"period": period, "epoch": epoch}
    pam: dict[str, Any] = {"allowlist": [to_checksum_address(a) for a in allowed]}
    if p256_verify:
        pam["p256Verify"] = True
    if zero_base_fee:
        pam["zeroBaseFee"] = True
        base_fee = 0
    if permission_contract is not None:
        pc = permission_contract if isinstance(permission_contract, str) else "0x" + permission_contract.hex()
        pam["permissionContract"] = to_checksum_address(_address(pc, "permissionContract"))
    if node_permission_contract is not None:
        npc = (
            node_permission_contract
            if isinstance(node_permission_contract, str)
            else "0x" + node_permission_contract.hex()
        )
        pam["nodePermissionContract"] = to_checksum_address(_address(npc, "nodePermissionContract"))
    if node_allowlist is not None:
        pam["nodeAllowlist"] = list(node_allowlist)
    config["pamchain"] = pam
    alloc_doc: dict[str, Any] = {to_checksum_address(a): {"balance": hex(v)} for a, v in funded.items()}
    for k, v in (extra_alloc or {}).items():
        alloc_doc[to_checksum_address(_address(k, "alloc"))] = dict(v)
    doc = {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(int(time.time()) if timestamp is None else timestamp),
        "extraData": "0x" + clique_extra_data(signer_addrs).hex(),
        "gasLimit": hex(gas_limit),
        "difficulty": "0x1",
        "mixHash": "0x" + "00" * 32,
        "coinbase": "0x" + "00" * 20,
        "baseFeePerGas": hex(base_fee),
        "alloc": alloc_doc,
    }
    parse_genesis(doc)  # fail here, not at node start, if the inputs were inconsistent
    return doc


def deployment_genesis(
    signers: Iterable[bytes | str],
    chain_id: int,
    alloc: Mapping[_AddressT, int],
    deployer: bytes | str,
    **options: Any,
) -> dict[str, Any]:
    """The genesis of a new pamchain deployment: only ``deployer`` may send at first, and the permission
    contracts are the deployer's second and third contracts (PamChain after the Council, then PamNetwork; their
    addresses are known before they exist), so once the suite is deployed its council decides who may send and
    which nodes may connect. Free gas unless ``zero_base_fee=False``: enrolment is enough to transact."""
    options.setdefault("zero_base_fee", True)
    deployer_address = _address(deployer if isinstance(deployer, str) else "0x" + deployer.hex(), "deployer")
    return make_genesis(
        signers,
        chain_id,
        alloc,
        allowlist=["0x" + deployer_address.hex()],
        permission_contract="0x" + contract_address(deployer_address, 1).hex(),
        node_permission_contract="0x" + contract_address(deployer_address, 2).hex(),
        **options,
    )
