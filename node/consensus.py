"""Clique (EIP-225) for pamchain: configures py-evm's ``eth.consensus.clique`` onto post-merge VMs and seals.

Seal hash. For every header shape (including London-and-later headers carrying ``baseFeePerGas``,
``withdrawalsRoot``, blob fields and ``requestsHash``) the seal hash is py-evm's definition: keccak256 of the
RLP of the complete header with ``extraData`` truncated by its last 65 bytes. Geth's pre-London ``SealHash``
also drops the seal bytes but encodes the field list explicitly; for headers that have the London+ fields the
two agree only as long as geth appends the same fields, which no Cancun/Prague Clique client specifies. This
is pamchain's documented choice (docs/node.md), checked against geth's published vectors in the tests.

Why the VM classes need more than ``CliqueApplier``: Paris and later VMs insist on ``difficulty == 0``
(EIP-3675) when headers are created and validated, while Clique encodes in-turn/out-of-turn as difficulty
2/1. ``configure_clique_vm`` keeps py-evm's pre-merge header validation for those VMs (via ``configure``,
not a subclass). The one subclass, ``PamchainClique``, exists because py-evm rejects any header whose
timestamp is ahead of the wall clock, and pamchain bumps timestamps by one second when it seals several
blocks within a second (timestamps must strictly increase); it tolerates a bounded drift instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from eth.abc import BlockHeaderAPI, VirtualMachineAPI
from eth.consensus.clique import CliqueApplier, CliqueConsensus, CliqueConsensusContext
from eth.consensus.clique._utils import (
    get_block_signer,
    get_signature_hash,
    get_signers_at_checkpoint,
    is_checkpoint,
    is_in_turn,
    validate_header_integrity,
)
from eth.consensus.clique.constants import NONCE_DROP, SIGNATURE_LENGTH, VANITY_LENGTH
from eth.constants import ZERO_ADDRESS, ZERO_HASH32
from eth.vm.base import VM
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_typing import Address, Hash32
from eth_utils import ValidationError, encode_hex

#: Seconds a header's timestamp may run ahead of this node's clock (geth allows 15 s for ethash blocks).
MAX_FUTURE_DRIFT = 15
IN_TURN_DIFFICULTY = 2
OUT_OF_TURN_DIFFICULTY = 1
POST_MERGE_FORKS = ("paris", "shanghai", "cancun", "prague")


class PamchainClique(CliqueConsensus):
    """py-evm's Clique with a bounded tolerance for future timestamps (see module docstring)."""

    max_future_drift = MAX_FUTURE_DRIFT

    @classmethod
    def get_fee_recipient(cls, header: BlockHeaderAPI) -> Address:
        # py-evm only expects ValueError from an unsealed header; the genesis carries 65 zero seal bytes,
        # which fail recovery with BadSignature. Neither has a signer, so fees (if any) go to the coinbase.
        try:
            return get_block_signer(header)
        except (ValueError, BadSignature):
            return header.coinbase

    def _integrity(self, header: BlockHeaderAPI) -> None:
        now = int(time.time())
        if header.timestamp > now + self.max_future_drift:
            raise ValidationError(f"Invalid future timestamp: {header.timestamp} (now {now})")
        # Clamp only for py-evm's own clock check; every other rule sees the real header.
        validate_header_integrity(header.copy(timestamp=min(header.timestamp, now)), self._epoch_length)

    def validate_seal(self, header: BlockHeaderAPI) -> None:
        self._integrity(header)

    def validate_seal_extension(self, header: BlockHeaderAPI, parents: Iterable[BlockHeaderAPI]) -> None:
        # Same rules, order and messages as CliqueConsensus.validate_seal_extension.
        if header.block_number == 0:
            return
        self._integrity(header)
        signer = get_block_signer(header)
        snapshot = self._snapshot_manager.get_or_create_snapshot(
            header.block_number - 1, header.parent_hash, parents
        )
        in_turn = is_in_turn(signer, snapshot, header)
        authorized = snapshot.get_sorted_signers()
        expected = IN_TURN_DIFFICULTY if in_turn else OUT_OF_TURN_DIFFICULTY
        if header.difficulty != expected:
            raise ValidationError(
                f"Expected difficulty of {header} to be {expected} but was {header.difficulty}. "
                f"Header signer: {encode_hex(signer)}. Valid signers: {authorized}"
            )
        self._snapshot_manager.apply(snapshot, header)
        if signer not in authorized:
            raise ValidationError(f"Failed to validate {header}. Signer {encode_hex(signer)} not in {authorized}")


def context_class(epoch: int) -> type[CliqueConsensusContext]:
    """A consensus-context class with the genesis' epoch length (py-evm reads it as a class attribute)."""
    return type("PamchainCliqueContext", (CliqueConsensusContext,), {"epoch_length": epoch})


def _pre_merge_validate_header(cls: Any, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
    # VM.validate_header: extra-data length, gas limit/base fee (cls.validate_gas), numbering, timestamps.
    # Paris' extra "difficulty must be 0 / nonce must be 0" checks are exactly what Clique replaces.
    VM.validate_header.__func__(cls, header, parent_header)  # type: ignore[attr-defined]


def configure_clique_vm(fork: str, vm_class: type[VirtualMachineAPI]) -> type[VirtualMachineAPI]:
    """``vm_class`` configured for Clique: py-evm's ``CliqueApplier`` plus the post-merge adjustments."""
    ((_, configured),) = CliqueApplier().amend_vm_configuration(((0, vm_class),))
    overrides: dict[str, Any] = {"consensus_class": PamchainClique}
    if fork in POST_MERGE_FORKS:
        overrides["validate_header"] = classmethod(_pre_merge_validate_header)
    return configured.configure(__name__=f"Clique{vm_class.__name__}", **overrides)


def sealing_vm_class(vm_class: type[VirtualMachineAPI], signer: Address) -> type[VirtualMachineAPI]:
    """``vm_class`` for building a block ``signer`` will seal.

    While a block is built its header carries no seal yet, so py-evm's Clique cannot recover the fee
    recipient (the signer, as in geth) from it and would credit priority fees to the coinbase; importers
    recover the signer from the finished seal. Naming the signer up front keeps both executions identical.
    """
    consensus = type(
        "SealingClique", (vm_class.consensus_class,), {"get_fee_recipient": classmethod(lambda cls, h: signer)}
    )
    return vm_class.configure(__name__=f"Sealing{vm_class.__name__}", consensus_class=consensus)


def seal_hash(header: BlockHeaderAPI) -> Hash32:
    """keccak256(rlp(header with extraData[:-65])) - what the signer signs."""
    return get_signature_hash(header)


def recover_signer(header: BlockHeaderAPI) -> Address:
    return get_block_signer(header)


def signers_from_checkpoint(header: BlockHeaderAPI) -> tuple[Address, ...]:
    return tuple(get_signers_at_checkpoint(header))


def prepare_header(
    header: BlockHeaderAPI, signers: Iterable[Address], signer: Address, epoch: int, vanity: bytes = b""
) -> BlockHeaderAPI:
    """Fill the Clique fields of an unsealed header: difficulty by turn, no vote, seal space in extraData."""
    ordered = sorted(signers)
    in_turn = bool(ordered) and ordered[header.block_number % len(ordered)] == signer
    checkpoint = is_checkpoint(header.block_number, epoch)
    extra = vanity[:VANITY_LENGTH].ljust(VANITY_LENGTH, b"\0")
    if checkpoint:
        extra += b"".join(ordered)
    extra += b"\0" * SIGNATURE_LENGTH
    extra_fields = {}
    if hasattr(header, "parent_beacon_block_root"):
        # No beacon chain behind Clique: a zero root, as geth's dev mode uses.
        extra_fields["parent_beacon_block_root"] = ZERO_HASH32
    return header.copy(
        **extra_fields,
        difficulty=IN_TURN_DIFFICULTY if in_turn else OUT_OF_TURN_DIFFICULTY,
        nonce=NONCE_DROP,  # no vote: pamchain does not propose signer changes yet
        coinbase=ZERO_ADDRESS,
        mix_hash=ZERO_HASH32,
        extra_data=extra,
    )


def seal_header(header: BlockHeaderAPI, private_key: keys.PrivateKey) -> BlockHeaderAPI:
    """Sign the seal hash and place the 65-byte signature at the end of ``extraData``."""
    signature = private_key.sign_msg_hash(seal_hash(header))
    return header.copy(extra_data=header.extra_data[:-SIGNATURE_LENGTH] + signature.to_bytes())
