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

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
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
from eth.consensus.clique.constants import NONCE_AUTH, NONCE_DROP, SIGNATURE_LENGTH, VANITY_LENGTH
from eth.consensus.clique.datatypes import Snapshot, Tally, VoteAction
from eth.consensus.clique.datatypes import Vote as CliqueVote
from eth.consensus.clique.snapshot_manager import SnapshotManager
from eth.constants import ZERO_ADDRESS, ZERO_HASH32
from eth.db.chain import ChainDB
from eth.vm.base import VM
from eth_keys.datatypes import PrivateKey
from eth_keys.exceptions import BadSignature
from eth_typing import Address, Hash32
from eth_utils import ValidationError, encode_hex

#: Seconds a header's timestamp may run ahead of this node's clock (geth allows 15 s for ethash blocks).
MAX_FUTURE_DRIFT = 15
IN_TURN_DIFFICULTY = 2
OUT_OF_TURN_DIFFICULTY = 1
POST_MERGE_FORKS = ("paris", "shanghai", "cancun", "prague")
#: geth's wiggle unit: an out-of-turn signer waits up to (N/2 + 1) * 500 ms so the in-turn block usually wins.
WIGGLE_TIME = 0.5
ERR_RECENTLY_SIGNED = "recently signed"
ERR_UNAUTHORIZED = "unauthorized signer"

_SIGNERS: OrderedDict[bytes, Address] = OrderedDict()


def cached_signer(header: BlockHeaderAPI) -> Address:
    """The sealer of ``header`` (ecrecover), memoised by header hash: fork choice, recency and finality
    look at the same recent headers again and again."""
    key = header.hash
    found = _SIGNERS.get(key)
    if found is None:
        found = get_block_signer(header)
        _remember_signer(key, found)
    return found


def _remember_signer(header_hash: bytes, signer: Address) -> None:
    _SIGNERS[header_hash] = signer
    if len(_SIGNERS) > 16_384:
        _SIGNERS.popitem(last=False)


def block_author(header: BlockHeaderAPI) -> Address:
    """Who a block's fees go to and what COINBASE reads in it: its sealer (memoised), as in geth's Clique.

    py-evm only expects ValueError from an unsealed header; the genesis carries 65 zero seal bytes, which
    fail recovery with BadSignature. Neither has a signer, so fees (if any) go to the header's coinbase."""
    try:
        return cached_signer(header)
    except (ValueError, BadSignature):
        return header.coinbase


def signer_limit(signer_count: int) -> int:
    """EIP-225: a signer may seal at most one block in any ``floor(N/2) + 1`` consecutive blocks."""
    return signer_count // 2 + 1


class PamchainClique(CliqueConsensus):
    """py-evm's Clique with a bounded tolerance for future timestamps (see module docstring)."""

    max_future_drift = MAX_FUTURE_DRIFT

    @classmethod
    def get_fee_recipient(cls, header: BlockHeaderAPI) -> Address:
        return block_author(header)

    def _integrity(self, header: BlockHeaderAPI) -> None:
        now = int(time.time())
        if header.timestamp > now + self.max_future_drift:
            raise ValidationError(f"Invalid future timestamp: {header.timestamp} (now {now})")
        # Clamp only for py-evm's own clock check; every other rule sees the real header (copied only when
        # the clamp changes it: a header copy costs more than the checks).
        validate_header_integrity(
            header if header.timestamp <= now else header.copy(timestamp=now), self._epoch_length
        )

    def validate_seal(self, header: BlockHeaderAPI) -> None:
        self._integrity(header)

    def validate_seal_extension(self, header: BlockHeaderAPI, parents: Iterable[BlockHeaderAPI]) -> None:
        # py-evm's CliqueConsensus.validate_seal_extension (same order and messages) plus two geth rules
        # py-evm lacks: the checkpoint's signer list must equal the parent snapshot's signers, and the
        # "recently signed" limit.
        if header.block_number == 0:
            return
        parents = tuple(parents)
        self._integrity(header)
        signer = cached_signer(header)
        snapshot = self._snapshot_manager.get_or_create_snapshot(
            header.block_number - 1, header.parent_hash, parents
        )
        in_turn = is_in_turn(signer, snapshot, header)
        authorized = snapshot.get_sorted_signers()
        if signer not in authorized:
            raise ValidationError(
                f"{ERR_UNAUTHORIZED}: {header} sealed by {encode_hex(signer)}, not in {authorized}"
            )
        expected = IN_TURN_DIFFICULTY if in_turn else OUT_OF_TURN_DIFFICULTY
        if header.difficulty != expected:
            raise ValidationError(
                f"Expected difficulty of {header} to be {expected} but was {header.difficulty}. "
                f"Header signer: {encode_hex(signer)}. Valid signers: {authorized}"
            )
        if is_checkpoint(header.block_number, self._epoch_length):
            listed = header.extra_data[VANITY_LENGTH:-SIGNATURE_LENGTH]
            if listed != b"".join(authorized):
                raise ValidationError(f"mismatching signer list on checkpoint block {header.block_number}")
        lookup = lambda h: self._snapshot_manager._lookup_header(h, parents)  # noqa: E731
        if signer in recent_signers(lookup, header.parent_hash, len(authorized)):
            raise ValidationError(
                f"{ERR_RECENTLY_SIGNED}: {encode_hex(signer)} at block {header.block_number}"
            )
        self._snapshot_manager.apply(snapshot, header)


def recent_signers(
    lookup: Callable[[Hash32], BlockHeaderAPI], parent_hash: Hash32, signer_count: int
) -> set[Address]:
    """Signers of the ``limit - 1`` blocks before the next one (on the branch ending at ``parent_hash``).

    Equivalent to geth's ``Snapshot.Recents`` after it drops ``number - limit``: geth trims at most one
    entry per block, and both growing and shrinking the signer set leave exactly this window.
    """
    recent: set[Address] = set()
    current = parent_hash
    for _ in range(signer_limit(signer_count) - 1):
        header = lookup(current)
        if header.block_number == 0:
            break
        recent.add(cached_signer(header))
        current = header.parent_hash
    return recent


class PamchainSnapshotManager(SnapshotManager):
    """py-evm's snapshot store and checkpoint handling with geth's vote tally (``Snapshot.apply``).

    py-evm's own ``apply`` crashes on EIP-225 case 3 (it removes a vote twice while discarding votes about
    a removed signer) and only re-evaluates a tally when a vote was cast; this is a straight port of geth's
    rules, which pass all 24 published scenarios (tests/node/test_clique_conformance.py).
    """

    def apply(self, current_snapshot: Snapshot, header: BlockHeaderAPI) -> Snapshot:
        if is_checkpoint(header.block_number, self._epoch_length):
            return self._create_snapshot_from_checkpoint_header(header)
        snap = current_snapshot.get_mutable_clone(header.hash)
        subject = header.coinbase
        if header.nonce in (NONCE_AUTH, NONCE_DROP) and subject != ZERO_ADDRESS:
            signer = cached_signer(header)
            action = VoteAction(header.nonce)
            for vote in snap.votes:  # a signer's new vote on a subject replaces its previous one
                if vote.signer == signer and vote.subject == subject:
                    self._uncast(snap.tallies, vote.subject, vote.action)
                    snap.votes.remove(vote)
                    break
            if self._cast(snap.signers, snap.tallies, subject, action):
                snap.votes.append(CliqueVote(signer, header.block_number, subject, action))
            tally = snap.tallies.get(subject)
            if tally is not None and tally.votes > len(snap.signers) // 2:
                if tally.action is VoteAction.NOMINATE:
                    if subject not in snap.signers:
                        snap.signers.append(subject)
                else:
                    if subject in snap.signers:
                        snap.signers.remove(subject)
                    for vote in list(snap.votes):  # votes the removed signer cast no longer count
                        if vote.signer == subject:
                            self._uncast(snap.tallies, vote.subject, vote.action)
                            snap.votes.remove(vote)
                snap.votes[:] = [v for v in snap.votes if v.subject != subject]
                snap.tallies.pop(subject, None)
        return self.add_snapshot(snap)

    @staticmethod
    def _cast(
        signers: list[Address], tallies: dict[Address, Tally], subject: Address, action: VoteAction
    ) -> bool:
        if (subject in signers) == (action is VoteAction.NOMINATE):
            return False  # adding a signer or dropping a non-signer: not a valid vote
        tallies[subject] = tallies.get(subject, Tally(action)).upvote()
        return True

    @staticmethod
    def _uncast(tallies: dict[Address, Tally], subject: Address, action: VoteAction) -> None:
        tally = tallies.get(subject)
        if tally is None or tally.action is not action:
            return
        if tally.votes > 1:
            tallies[subject] = tally.downvote()
        else:
            del tallies[subject]


class _Context(CliqueConsensusContext):
    def __init__(self, db: Any) -> None:
        self.db = db
        self.snapshot_manager = PamchainSnapshotManager(ChainDB(db), self.epoch_length)


def context_class(epoch: int) -> type[CliqueConsensusContext]:
    """A consensus-context class with the genesis' epoch length (py-evm reads it as a class attribute)."""
    return type("PamchainCliqueContext", (_Context,), {"epoch_length": epoch})


def _pre_merge_validate_header(cls: Any, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
    # VM.validate_header: extra-data length, gas limit/base fee (cls.validate_gas), numbering, timestamps.
    # Paris' extra "difficulty must be 0 / nonce must be 0" checks are exactly what Clique replaces.
    VM.validate_header.__func__(cls, header, parent_header)  # type: ignore[attr-defined]


def timestamp_step(period: int) -> int:
    """The least a child's timestamp exceeds its parent's: EIP-225 asks ``parent + period <= timestamp``
    (geth: ``parent.Time + period > header.Time`` is invalid), so with period 0 equal timestamps are valid;
    py-evm (any chain) and pamchain with a period >= 1 require a strictly later one."""
    return 0 if period == 0 else 1


def _period_zero(validate: Callable[[Any, BlockHeaderAPI, BlockHeaderAPI], None]) -> Any:
    def validate_header(cls: Any, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
        if parent_header is not None and header.timestamp == parent_header.timestamp:
            # Equal is allowed (period 0); every other rule is py-evm's, so check them against a parent one
            # second older (the parent's timestamp takes part in no other header rule).
            parent_header = parent_header.copy(timestamp=parent_header.timestamp - 1)
        validate(cls, header, parent_header)

    return classmethod(validate_header)


def configure_clique_vm(
    fork: str, vm_class: type[VirtualMachineAPI], period: int = 1
) -> type[VirtualMachineAPI]:
    """``vm_class`` configured for Clique: py-evm's ``CliqueApplier`` plus the post-merge adjustments, and
    with ``period`` 0 EIP-225's equal timestamps (``timestamp_step``)."""
    ((_, configured),) = CliqueApplier().amend_vm_configuration(((0, vm_class),))
    overrides: dict[str, Any] = {"consensus_class": PamchainClique}
    validate: Any = configured.validate_header.__func__  # type: ignore[attr-defined]
    if fork in POST_MERGE_FORKS:
        validate = _pre_merge_validate_header
        overrides["validate_header"] = classmethod(validate)
    if timestamp_step(period) == 0:
        overrides["validate_header"] = _period_zero(validate)
    return configured.configure(__name__=f"Clique{vm_class.__name__}", **overrides)


def sealing_vm_class(vm_class: type[VirtualMachineAPI], signer: Address) -> type[VirtualMachineAPI]:
    """``vm_class`` for building a block ``signer`` will seal.

    While a block is built its header carries no seal yet, so py-evm's Clique cannot recover the fee
    recipient (the signer, as in geth) from it and would credit priority fees to the coinbase; importers
    recover the signer from the finished seal. Naming the signer up front keeps both executions identical.
    """
    consensus = type(
        "SealingClique",
        (vm_class.consensus_class,),
        {"get_fee_recipient": classmethod(lambda cls, h: signer)},
    )
    return vm_class.configure(__name__=f"Sealing{vm_class.__name__}", consensus_class=consensus)


def seal_hash(header: BlockHeaderAPI) -> Hash32:
    """keccak256(rlp(header with extraData[:-65])) - what the signer signs."""
    return get_signature_hash(header)


def recover_signer(header: BlockHeaderAPI) -> Address:
    return get_block_signer(header)


def signers_from_checkpoint(header: BlockHeaderAPI) -> tuple[Address, ...]:
    return tuple(get_signers_at_checkpoint(header))


@dataclass(frozen=True)
class Vote:
    """A signer's vote carried in a header: ``coinbase`` = subject, nonce ``0xff..ff`` adds, ``0x00..00`` drops."""

    subject: Address
    authorize: bool


def prepare_header(
    header: BlockHeaderAPI,
    signers: Iterable[bytes],
    signer: bytes,
    epoch: int,
    vanity: bytes = b"",
    vote: Vote | None = None,
) -> BlockHeaderAPI:
    """Fill the Clique fields of an unsealed header: difficulty by turn, the vote (if any), seal space."""
    ordered = sorted(signers)
    in_turn = bool(ordered) and ordered[header.block_number % len(ordered)] == signer
    checkpoint = is_checkpoint(header.block_number, epoch)
    extra = vanity[:VANITY_LENGTH].ljust(VANITY_LENGTH, b"\0")
    if checkpoint:
        extra += b"".join(ordered)
        vote = None  # EIP-225: checkpoints carry no vote
    extra += b"\0" * SIGNATURE_LENGTH
    extra_fields = {}
    if hasattr(header, "parent_beacon_block_root"):
        # No beacon chain behind Clique: a zero root, as geth's dev mode uses.
        extra_fields["parent_beacon_block_root"] = ZERO_HASH32
    return header.copy(
        **extra_fields,
        difficulty=IN_TURN_DIFFICULTY if in_turn else OUT_OF_TURN_DIFFICULTY,
        nonce=(NONCE_AUTH if vote.authorize else NONCE_DROP) if vote else NONCE_DROP,
        coinbase=vote.subject if vote else ZERO_ADDRESS,
        mix_hash=ZERO_HASH32,
        extra_data=extra,
    )


def choose_vote(
    proposals: dict[bytes, bool], signers: Sequence[bytes], rng: random.Random | None = None
) -> Vote | None:
    """geth's pick: a random proposal that still makes sense (add a non-signer, drop a signer), else none."""
    valid = [Vote(Address(a), auth) for a, auth in proposals.items() if (a in signers) != auth]
    return (rng or random).choice(valid) if valid else None


def in_turn_signer(signers: Sequence[bytes], number: int) -> bytes | None:
    ordered = sorted(signers)
    return ordered[number % len(ordered)] if ordered else None


def seal_delay(signers: Sequence[bytes], signer: bytes, number: int, barred: Collection[bytes] = ()) -> float:
    """Extra wait beyond the block's timestamp: the signer's rank times 500 ms among the signers that may seal
    block ``number`` (``barred``: those that sealed too recently), counted from the in-turn slot.

    In turn, 0. When the in-turn signer is barred, the next signer in the rotation stands in at once instead
    of every eligible signer drawing geth's random wiggle (up to (N/2 + 1) * 500 ms: a request waited up to a
    second for nothing). Out-of-turn signers still wait, by rank: distinct delays half a second apart keep two
    of them from sealing competing blocks, which is what the wiggle is for (EIP-225 recommends it; it is
    local policy, not a validity rule)."""
    ordered = sorted(signers)
    if signer not in ordered:
        return 0.0
    start = number % len(ordered)
    rotation = ordered[start:] + ordered[:start]
    eligible = [s for s in rotation if s not in barred or s == signer]
    return eligible.index(signer) * WIGGLE_TIME


def fork_choice_key(
    header: BlockHeaderAPI, score: int, signers: Sequence[bytes]
) -> tuple[int, int, int, int]:
    """EIP-3436 preference as a sort key (bigger wins) for a chain head with total difficulty ``score``.

    1. most total difficulty; 2. lowest block number; 3. the signer whose in-turn slot is least recent,
    ``(number - signer_index) % N`` largest, ``signer_index`` in the sorted signer list of the parent
    snapshot; 4. lowest hash as an unsigned 256-bit integer. Every node ranks two heads the same way,
    whatever order it saw them in, so equal-difficulty forks cannot deadlock.
    """
    ordered = sorted(signers)
    try:
        index = ordered.index(cached_signer(header))
        recency = (header.block_number - index) % len(ordered)
    except (ValueError, BadSignature):
        recency = -1
    return (score, -header.block_number, recency, -int.from_bytes(header.hash, "big"))


def seal_header(header: BlockHeaderAPI, private_key: PrivateKey) -> BlockHeaderAPI:
    """Sign the seal hash and place the 65-byte signature at the end of ``extraData``."""
    signature = private_key.sign_msg_hash(seal_hash(header))
    sealed = header.copy(extra_data=header.extra_data[:-SIGNATURE_LENGTH] + signature.to_bytes())
    # Its signer is known: validating, committing and announcing the block need not recover it again.
    _remember_signer(sealed.hash, Address(private_key.public_key.to_canonical_address()))
    return sealed
