# Over 500 lines on purpose: header chain, Clique rules and receipt proofs verify one another.
"""A Clique light client: the oracle verifies what its RPC endpoint serves before it acts on any of it.

From a trusted anchor (the genesis hash or a block hash recorded at deployment) it checks every header's
link, hash and Clique seal against the signer set (votes and checkpoints included), decides finality itself
(docs/network.md: a majority of signers sealed the block or blocks on top of it), and proves the contract's
logs against the block's receipts root. The last verified final block and its signer snapshot are kept in a
table of the journal's SQLite file, so a restart resumes there instead of at the anchor.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from eth_utils import keccak
from hexbytes import HexBytes
from pamchain.sdk.chain import ffg as casper
from pamchain.sdk.chain.chain_check import encode_receipt, encode_transaction, trie_root
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.clique import (
    DEFAULT_EPOCH,
    BadHeader,
    Header,
    Snapshot,
    UnlinkedHeader,
    parse_header,
    seal_signer,
    signer_limit,
)
from pamchain.sdk.chain.events import Event
from pamchain.sdk.chain.jsonrpc import ChainRpc
from pamchain.sdk.errors import NodeUnavailable, SdkError
from pamchain.sdk.oracle.errors import EndpointLies, OracleError, UnverifiedBlock
from pamchain.sdk.sqlite_db import open_database

log = logging.getLogger("pamchain.oracle.light_client")
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS light_client (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    anchor TEXT NOT NULL,       -- "number:0xhash" the state below was verified from
    snapshot TEXT NOT NULL,     -- the signer snapshot at the last verified final block (JSON)
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS light_client_marks (
    number INTEGER PRIMARY KEY, -- a verified final block every MARK_EVERY blocks, and the anchor
    hash TEXT NOT NULL          -- so that older headers are re-verified from nearby, not from the tip
)
"""
#: A verified final block's hash is kept every this many blocks: re-reading old blocks (a journal rebuilt
#: from the chain) walks parent hashes down from the nearest mark above, never further.
MARK_EVERY = 1024


@dataclass(frozen=True, slots=True)
class Anchor:
    """A block the operator trusts by its hash: the genesis, or the deployment block recorded at deploy."""

    number: int
    hash: bytes

    @classmethod
    def parse(cls, number: int, block_hash: str) -> Anchor:
        raw = bytes.fromhex(block_hash.removeprefix("0x"))
        if len(raw) != 32 or number < 0:
            raise ValueError(f"an anchor is a block number and a 32-byte hash, not {number}:{block_hash}")
        return cls(number, raw)

    def __str__(self) -> str:
        return f"{self.number}:0x{self.hash.hex()}"


@dataclass(frozen=True, slots=True)
class Verification:
    """How the oracle checks its endpoint: ``clique`` from a trusted anchor (production), or ``none``.

    ``none`` takes the endpoint's word (dev chains without Clique seals, such as anvil) and is logged as
    a warning at startup.
    """

    mode: str = "clique"
    anchor: Anchor | None = None
    epoch: int = DEFAULT_EPOCH

    def __post_init__(self) -> None:
        if self.mode not in ("clique", "none"):
            raise ValueError(f"verify must be 'clique' or 'none', not {self.mode!r}")
        if self.epoch <= 0:
            raise ValueError("the Clique epoch is a positive block count")

    @property
    def enabled(self) -> bool:
        return self.mode == "clique"


NO_VERIFICATION = Verification("none")


class SnapshotStore:
    """The light client's one row in the journal's SQLite file (a table of its own)."""

    def __init__(self, path: str | Path) -> None:
        self._db = open_database(path, _SCHEMA)

    def load(self, anchor: Anchor) -> Snapshot | None:
        row = self._db.execute("SELECT anchor, snapshot FROM light_client WHERE id = 1").fetchone()
        if row is None or row[0] != str(anchor):
            return None  # nothing yet, or verified from another anchor: start again from the configured one
        return Snapshot.from_json(row[1])

    def save(self, anchor: Anchor, snapshot: Snapshot) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO light_client (id, anchor, snapshot, updated) VALUES (1, ?, ?, ?)",
            (str(anchor), snapshot.to_json(), time.time()),
        )

    def mark(self, anchor: Anchor, headers: list[Header]) -> None:
        """Keep the hashes of ``headers`` (verified final) as marks for later walks down the chain."""
        if self._db.execute("SELECT anchor FROM light_client WHERE id = 1").fetchone() not in (
            None,
            (str(anchor),),
        ):
            self._db.execute("DELETE FROM light_client_marks")  # verified from another anchor before
        self._db.executemany(
            "INSERT OR REPLACE INTO light_client_marks (number, hash) VALUES (?, ?)",
            [(h.number, h.hex_hash) for h in headers],
        )

    def mark_above(self, number: int) -> tuple[int, bytes] | None:
        """The lowest marked block above ``number``."""
        row = self._db.execute(
            "SELECT number, hash FROM light_client_marks WHERE number > ? ORDER BY number LIMIT 1", (number,)
        ).fetchone()
        return None if row is None else (int(row[0]), bytes.fromhex(str(row[1])[2:]))

    def close(self) -> None:
        self._db.close()


def _public(url: str) -> str:
    """The endpoint as logs may show it: no user, password, query or fragment."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


class JsonRpc(Protocol):
    """Raw JSON-RPC reads (``jsonrpc.ChainRpc``): answers exactly as served, for verification."""

    url: str

    def call(self, method: str, *params: Any) -> Any: ...

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]: ...


class LightClient:
    """Verifies headers from the anchor, tracks the final block, and serves logs proven against receipts.

    Any data that fails verification raises :class:`EndpointLies` and the client refuses to serve anything
    more (the same error again) until it is rebuilt: a lying endpoint is not retried into trust.
    """

    def __init__(
        self,
        rpc: JsonRpc,
        store: SnapshotStore,
        anchor: Anchor,
        *,
        epoch: int = DEFAULT_EPOCH,
        max_headers: int = 2048,
        batch: int = 128,
        cache: int = 8192,
    ) -> None:
        if epoch <= 0:
            raise ValueError("the Clique epoch is a positive block count")
        self.rpc = rpc
        self.store = store
        self.anchor = anchor
        self.epoch = epoch
        self.max_headers = max_headers
        self.batch = batch
        self.refused: EndpointLies | None = None
        self.endpoint = _public(rpc.url)
        self._final: Snapshot | None = None
        self._cache: OrderedDict[int, Header] = OrderedDict()
        self._proven: OrderedDict[bytes, list[dict[str, Any]]] = OrderedDict()  # by block hash + address
        self._cache_size = max(cache, 2 * max_headers)
        self.headers_verified = 0  # seals checked since start (for metrics)

    # -- the final block ---------------------------------------------------------------------------------

    @property
    def final(self) -> int:
        """The last block verified final (-1 before the first sync)."""
        return self._final.number if self._final is not None else -1

    @property
    def signers(self) -> tuple[bytes, ...]:
        """The signer set at the last block verified final (empty before the first sync)."""
        return self._final.signers if self._final is not None else ()

    def sync(self) -> int:
        """Verify the headers after the final block (at most ``max_headers``) and move the final block on."""
        self._check_not_refused()
        final = self._final if self._final is not None else self._start()
        head = _int(self.rpc.call("eth_blockNumber"))
        blocks = self._fetch(final.number + 1, min(head, final.number + self.max_headers))
        verified: list[tuple[Snapshot, Header]] = []
        current = final
        for block in blocks:
            try:
                current, header = current.verify(block)
            except UnlinkedHeader:
                if verified:  # the non-final head moved between two batches: verify the rest next time
                    break
                raise self._refuse_header(block, "does not link to the verified final block") from None
            except BadHeader as exc:
                raise self._refuse(exc.number, exc.block_hash, exc.reason) from exc
            except (KeyError, TypeError, ValueError) as exc:
                raise self._refuse_header(block, f"malformed header ({type(exc).__name__})") from exc
            verified.append((current, header))
        self.headers_verified += len(verified)
        index = self._final_index(verified, final.number)
        if index is not None:
            for _, header in verified[: index + 1]:
                self._remember(header)
            self.store.mark(self.anchor, [h for _, h in verified[: index + 1] if h.number % MARK_EVERY == 0])
            self._final = verified[index][0]
            self.store.save(self.anchor, self._final)
        return self._final.number if self._final is not None else final.number

    @staticmethod
    def _final_index(verified: list[tuple[Snapshot, Header]], final: int) -> int | None:
        """Index in ``verified`` of the highest block now final: with one signer every sealed block (no one
        races it), else the checkpoint finalized by the FFG votes the verified headers carry."""
        if not verified:
            return None
        last, head = verified[-1]
        number = casper.final_height(last.ffg, len(last.signers), head.number)
        if number <= final:
            return None
        return number - verified[0][1].number

    def _start(self) -> Snapshot:
        stored = self.store.load(self.anchor)
        if stored is not None:
            self._final = stored
            log.info("light client resumes", extra={"block": stored.number, "anchor": str(self.anchor)})
            return stored
        snapshot = self._bootstrap()
        self.store.mark(self.anchor, [self._cache[self.anchor.number]])
        self.store.save(self.anchor, snapshot)
        self._final = snapshot
        return snapshot

    def _bootstrap(self) -> Snapshot:
        """The snapshot at the anchor: from the checkpoint at or below it, every header linked to its hash."""
        number = self.anchor.number
        checkpoint = number - number % self.epoch
        blocks = self._fetch(checkpoint, number)
        if len(blocks) != number - checkpoint + 1:
            raise NodeUnavailable(f"the node does not serve blocks {checkpoint}..{number} yet")
        self._link_back(blocks, self.anchor.hash, " (or the configured anchor is wrong)")
        first = Snapshot.at_checkpoint(blocks[0], self.epoch)
        recents: list[tuple[int, bytes]] = []
        if checkpoint > 0:  # who sealed the blocks just before: they may not seal again yet
            window = signer_limit(len(first.signers))
            earlier = self._fetch(max(checkpoint - window + 1, 1), checkpoint - 1)
            self._link_back(earlier, parse_header(blocks[0]).parent_hash)
            recents = [(_int(b["number"]), _signer(b)) for b in [*earlier, blocks[0]]]
        snapshot = Snapshot.at_checkpoint(blocks[0], self.epoch, recents)
        self._remember(parse_header(blocks[0]))
        for block in blocks[1:]:
            try:
                snapshot, header = snapshot.verify(block)
            except BadHeader as exc:
                raise self._refuse(exc.number, exc.block_hash, exc.reason) from exc
            self._remember(header)
        log.info(
            "light client anchored", extra={"anchor": str(self.anchor), "signers": len(snapshot.signers)}
        )
        return replace(snapshot, ffg=casper.Checkpoints.from_anchor(number))  # final by trust

    # -- verified headers and logs -----------------------------------------------------------------------

    def headers(self, first: int, last: int) -> list[Header]:
        """Verified headers ``first..last``, all at or below the final block."""
        self._check_not_refused()
        if self._final is None or last > self._final.number or first < 0:
            raise UnverifiedBlock(last, self.final)
        found = {n: self._cache[n] for n in range(first, last + 1) if n in self._cache}
        missing = [n for n in range(first, last + 1) if n not in found]
        if missing:
            found.update((h.number, h) for h in self._fill(missing[0], missing[-1]))
        return [found[n] for n in range(first, last + 1)]

    def logs(self, first: int, last: int, address: bytes) -> list[dict[str, Any]]:
        """``address``'s logs in blocks ``first..last``, each taken from receipts proven by the header.

        Blocks whose logs bloom excludes ``address`` need no receipts: the bloom is part of the verified
        header.
        """
        out: list[dict[str, Any]] = []
        for header in self.headers(first, last):
            if not header.may_contain(address):
                continue
            key = header.hash + address
            proven = self._proven.get(key)
            if proven is None:  # the follower may read a range twice (receipts first, then actions)
                proven = self._proven[key] = self._proven_logs(header, address)
                while len(self._proven) > 512:
                    self._proven.popitem(last=False)
            out.extend(proven)
        return out

    def _proven_logs(self, header: Header, address: bytes) -> list[dict[str, Any]]:
        block_hash = header.hex_hash
        try:
            block = self.rpc.call("eth_getBlockByHash", block_hash, True)
            if block is None:
                raise NodeUnavailable(f"the node does not serve block {block_hash}")
            transactions = list(block.get("transactions") or [])
            encoded = [encode_transaction(tx) for tx in transactions]
            if trie_root(encoded) != header.transactions_root:
                raise self._refuse(
                    header.number, block_hash, "transactions do not match the transactions root"
                )
            receipts = self._receipts(block_hash, transactions)
            ordered = sorted(receipts, key=lambda r: _int(r["transactionIndex"]))
            if len(ordered) != len(encoded) or trie_root(encode_receipt(r) for r in ordered) != (
                header.receipts_root
            ):
                raise self._refuse(header.number, block_hash, "receipts do not match the receipts root")
        except EndpointLies:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._refuse(
                header.number, block_hash, f"malformed block or receipts ({type(exc).__name__})"
            ) from exc
        logs: list[dict[str, Any]] = []
        index = 0
        for position, (raw, receipt) in enumerate(zip(encoded, ordered, strict=True)):
            for entry in receipt["logs"]:
                if _bytes(entry["address"]) == address:
                    logs.append(
                        {
                            "address": "0x" + address.hex(),
                            "topics": [HexBytes(_bytes(t)) for t in entry["topics"]],
                            "data": HexBytes(_bytes(entry["data"])),
                            "blockNumber": header.number,
                            "blockHash": HexBytes(header.hash),
                            "transactionHash": HexBytes(keccak(raw)),
                            "transactionIndex": position,
                            "logIndex": index,
                            "removed": False,
                        }
                    )
                index += 1
        return logs

    def _receipts(self, block_hash: str, transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not transactions:
            return []
        try:
            result = self.rpc.call("eth_getBlockReceipts", block_hash)
            if result is not None:
                return list(result)
        except SdkError:
            pass  # not every node has eth_getBlockReceipts
        answers = self.rpc.batch([("eth_getTransactionReceipt", [tx["hash"]]) for tx in transactions])
        if any(answer is None for answer in answers):
            raise NodeUnavailable(f"the node does not serve the receipts of {block_hash}")
        return list(answers)

    # -- plumbing ----------------------------------------------------------------------------------------

    def _fetch(self, first: int, last: int) -> list[dict[str, Any]]:
        """Blocks ``first..last`` (headers only), stopping at the first the node does not have."""
        out: list[dict[str, Any]] = []
        for start in range(first, last + 1, self.batch):
            numbers = range(start, min(start + self.batch, last + 1))
            answers = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
            for answer in answers:
                if not isinstance(answer, dict):
                    return out
                out.append(answer)
        return out

    def _fill(self, first: int, last: int) -> list[Header]:
        """Verify ``first..last`` below a known verified block by walking parent hashes down from it: the
        nearest of a cached header, a stored mark, or the final block."""
        assert self._final is not None
        top, expected = self._final.number, self._final.hash
        mark = self.store.mark_above(last - 1)
        if mark is not None and mark[0] < top:
            top, expected = mark
        cached = next((n for n in range(last + 1, top + 1) if n in self._cache), None)
        if cached is not None:
            top, expected = cached - 1, self._cache[cached].parent_hash
        blocks = self._fetch(first, top)
        if len(blocks) != top - first + 1:
            raise NodeUnavailable(f"the node does not serve blocks {first}..{top}")
        headers = self._link_back(blocks, expected)
        for header in headers[-self._cache_size :]:
            self._remember(header)
        return headers

    def _link_back(self, blocks: list[dict[str, Any]], expected: bytes, hint: str = "") -> list[Header]:
        """Check consecutive ``blocks`` hash-link down from ``expected`` (the last one's trusted hash)."""
        headers: list[Header] = []
        for block in reversed(blocks):
            try:
                header = parse_header(block)
            except (KeyError, TypeError, ValueError) as exc:
                raise self._refuse_header(block, f"malformed header ({type(exc).__name__})") from exc
            if header.hash != expected:
                raise self._refuse_header(block, "does not hash to the verified chain" + hint)
            headers.append(header)
            expected = header.parent_hash
        return headers[::-1]

    def _remember(self, header: Header) -> None:
        self._cache[header.number] = header
        self._cache.move_to_end(header.number)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _check_not_refused(self) -> None:
        if self.refused is not None:
            raise self.refused

    def _refuse(self, number: int, block_hash: str | None, reason: str) -> EndpointLies:
        self.refused = EndpointLies(self.endpoint, number, block_hash, reason)
        return self.refused

    def _refuse_header(self, block: dict[str, Any], reason: str) -> EndpointLies:
        number = block.get("number")
        served = block.get("hash")
        return self._refuse(
            _int(number) if isinstance(number, str | int) else -1,
            served if isinstance(served, str) else None,
            reason,
        )


def _int(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 16)


def _bytes(value: Any) -> bytes:
    return bytes(HexBytes(value))


def _signer(block: dict[str, Any]) -> bytes:
    try:
        return seal_signer(block)
    except Exception as exc:  # eth_keys raises several types for a malformed signature
        raise BadHeader(
            _int(block["number"]), str(block.get("hash")), "the seal is not a valid signature"
        ) from exc


class VerifiedChain:
    """The follower's view of the chain through the light client: only verified final blocks and logs."""

    def __init__(self, light: LightClient, client: PamClient) -> None:
        self.light = light
        self.decoder = client.decoder
        self.address = bytes(HexBytes(client.address))

    def final_block(self) -> int:
        return _unavailable_on_error(self.light.sync)

    def events(self, first: int, last: int, names: Collection[str] = ()) -> list[Event]:
        return self.decoder.decode_all(
            _unavailable_on_error(lambda: self.light.logs(first, last, self.address)), names
        )

    def block_hash(self, number: int) -> str:
        return _unavailable_on_error(lambda: self.light.headers(number, number)[0].hex_hash)

    def health(self) -> dict[str, Any]:
        refused = self.light.refused
        return {
            "chain_verification": "clique",
            "verified_final": self.light.final,
            "headers_verified": self.light.headers_verified,
            "endpoint_lies": None if refused is None else str(refused),
            "endpoint_refused": refused is not None,  # the same as a number for /metrics
        }


def _unavailable_on_error(read: Callable[[], _T]) -> _T:
    """An RPC error answer is an unreachable chain to the daemon (it goes on from its journal); a lie or
    an unverified block stays what it is."""
    try:
        return read()
    except (OracleError, NodeUnavailable):
        raise
    except SdkError as exc:
        raise NodeUnavailable(str(exc)) from exc


def build_light_client(
    rpc_url: str, store_path: str | Path, anchor: Anchor, *, epoch: int = DEFAULT_EPOCH
) -> LightClient:
    """A light client over raw JSON-RPC to ``rpc_url``, remembering its progress in ``store_path``."""
    return LightClient(ChainRpc(rpc_url), SnapshotStore(store_path), anchor, epoch=epoch)


__all__ = [
    "NO_VERIFICATION",
    "Anchor",
    "LightClient",
    "SnapshotStore",
    "Verification",
    "VerifiedChain",
    "build_light_client",
]
