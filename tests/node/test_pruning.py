"""State pruning: the node keeps the state of its last ``state_history`` blocks and drops older states, counting
each trie node's places so that a node shared with a kept state is never dropped; blocks, receipts and logs all
stay. Checked in process (every kept state complete, nothing else counted, reorgs inside the window, a commit
that dies half-way, an older datadir) and on a node process (SIGKILLs, and the error a pruned block answers)."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils import to_checksum_address
from pamchain.node import load_genesis, make_genesis
from pamchain.node.chain import Chain
from pamchain.node.errors import StateUnavailable
from pamchain.node.storage import open_store

from support.node_process import init_node, start_node
from support.rpc import free_port

from .blocks import CallBlocks
from .conftest import CHAIN_ID, ETHER
from .node_process import RpcClient
from .test_crash import Client, _wait_up
from .test_log_index import SIGNERS
from .test_state_diff import _places

# SSTORE(calldata[0:32], calldata[32:64]); STOP
STORE_CODE = "0x6020356000355500"
STORE = bytes([0x5E]) * 20
TWIN = bytes([0x5F]) * 20  # a second contract with the same code: slots of equal value share trie nodes
SENDER = Account.from_key((0xBEEF).to_bytes(32, "big"))


def _doc(signers: list[LocalAccount], start: int) -> dict[str, Any]:
    code = {"balance": "0x0", "code": STORE_CODE}
    return make_genesis(
        [a.address for a in signers],
        CHAIN_ID,
        {SENDER.address: 1000 * ETHER},
        timestamp=start,
        extra_alloc={"0x" + STORE.hex(): code, "0x" + TWIN.hex(): code},
    )


class Builder(CallBlocks):
    """A chain whose blocks write storage slots (one a transaction)."""

    def __init__(self, doc: dict[str, Any], datadir: Path | None = None, **options: Any) -> None:
        super().__init__(doc, SENDER, datadir, **options)

    def block(self, writes: list[tuple[bytes, int, int]], signer: LocalAccount, timestamp: int) -> None:
        calls = [(c, slot.to_bytes(32, "big") + value.to_bytes(32, "big")) for c, slot, value in writes]
        self.build(calls, 80_000, signer, timestamp)


def _writes(n: int) -> list[tuple[bytes, int, int]]:
    """Block ``n``'s writes: a fresh slot, a slot rewritten every block, a value that comes back every third
    block, and the same slot and value in both contracts (one leaf node at two places)."""
    return [(STORE, 100 + n, n), (STORE, 1, n), (STORE, 2, n % 3), (STORE, 3, n % 2), (TWIN, 3, n % 2)]


def _kept_roots(chain: Chain) -> set[bytes]:
    """State roots of every block whose state the node says it keeps (canonical or not)."""
    rows = chain.store._conn.execute("SELECT hash FROM state_journal").fetchall()
    records = [chain.header_by_hash(h) for (h,) in rows]
    records += [chain.header_by_number(n) for n in range(chain.head_record().number + 1)]
    return {r.state_root for r in records if chain.has_state(r)}


def _check_store(chain: Chain) -> None:
    """Every kept state is complete, and no counted trie node is outside the kept states."""
    present = dict(chain.store._conn.execute("SELECT k, v FROM kv"))
    live: set[bytes] = set()
    for root in _kept_roots(chain):
        places = _places(present, root)  # raises KeyError on a missing node
        live.update(places)
    counted = {k for (k,) in chain.store._conn.execute("SELECT k FROM kv WHERE n IS NOT NULL")}
    assert counted <= live, f"{len(counted - live)} counted trie nodes belong to no kept state"


def _single(tmp_path: Path | None = None, **options: Any) -> tuple[Builder, int]:
    start = int(time.time()) - 10_000
    return Builder(_doc(SIGNERS[:1], start), tmp_path, **options), start


def test_pruning__keeps_the_window__drops_older_states() -> None:
    built, start = _single(state_history=4)
    chain = built.chain
    for n in range(1, 15):
        built.block(_writes(n), SIGNERS[0], start + n)
        _check_store(chain)
    head = chain.head_record().number
    for n in range(head - 4, head + 1):
        block = chain.header_by_number(n)
        assert chain.has_state(block)
        assert chain.storage_at(STORE, 1, block) == n
        assert chain.storage_at(STORE, 100 + n - 1, block) == n - 1
        assert chain.storage_at(TWIN, 3, block) == n % 2
    for n in range(0, head - 4):
        block = chain.header_by_number(n)
        assert not chain.has_state(block)
        with pytest.raises(StateUnavailable, match=f"state 0x{block.state_root.hex()} is not available"):
            chain.storage_at(STORE, 1, block)
    # History itself stays: every block, receipt and log.
    assert chain.header_by_number(1).number == 1
    assert len(chain.logs(0, head, [], [])) == 0  # the store contract logs nothing; the query still works
    assert all(
        r.status == 1 for n in range(1, head + 1) for r in chain.block_receipts(chain.header_by_number(n))
    )


def test_pruning__archive__keeps_every_state() -> None:
    built, start = _single(state_history=None)
    for n in range(1, 10):
        built.block(_writes(n), SIGNERS[0], start + n)
    for n in range(0, 10):
        assert built.chain.storage_at(STORE, 1, built.chain.header_by_number(n)) == n


def test_pruning__shrinks_the_store() -> None:
    """The point of it: with a short window the state rows stop growing with history."""
    sizes = {}
    for history in (None, 2):
        built, start = _single(state_history=history)
        for n in range(1, 30):
            built.block(_writes(n), SIGNERS[0], start + n)
        (sizes[history],) = built.chain.store._conn.execute("SELECT count(*) FROM kv").fetchone()
    assert sizes[2] < sizes[None] * 0.8


def test_pruning__reorg_inside_the_window__reads_the_new_branch() -> None:
    """Five signers (finality needs three): our in-turn block loses to a heavier branch of three out-of-turn
    blocks; every state of both branches stays complete while it is in the window, the new head reads right,
    and the losing branch's nodes are dropped once the window passes it."""
    start = int(time.time()) - 10_000
    doc = _doc(SIGNERS, start)
    x, y = Builder(doc, state_history=2), Builder(doc, state_history=2)
    p = 6
    for n in range(1, p + 1):
        x.block(_writes(n), SIGNERS[n % 5], start + n)
        assert y.chain.import_block(x.chain._evm_block(x.chain.head))
        _check_store(x.chain)
    y.nonce = x.nonce
    x.block([(STORE, 1, 1000)], SIGNERS[(p + 1) % 5], start + p + 1)
    for i in range(3):
        y.block([(STORE, 1, 2000 + i), (STORE, 5, i)], SIGNERS[(p + 2 + i) % 5], start + p + 1 + i)
    ours = x.chain.head_record()
    assert x.chain.storage_at(STORE, 1, ours) == 1000
    (our_tx,) = x.chain.tx_hashes(ours)
    for n in range(p + 1, p + 4):
        x.chain.import_block(y.chain._evm_block(y.chain._header_by_number(n)))
        _check_store(x.chain)
    head = x.chain.head_record()
    assert head.hash == y.chain.head_record().hash
    assert x.chain.storage_at(STORE, 1, head) == 2002
    assert x.chain.storage_at(STORE, 5, head) == 2
    assert x.chain.locate(our_tx) is None  # its lookup went with its block (tests/node/test_tx_lookups.py)
    for n in range(p + 1, p + 4):
        block = x.chain.header_by_number(n)
        assert [x.chain.locate(h) for h in x.chain.tx_hashes(block)] == [(block, 0), (block, 1)]
    for i in range(4, 12):  # both go on together until the window (and finality) passes the fork
        y.block(_writes(p + i), SIGNERS[(p + i + 3) % 5], start + p + i)
        x.chain.import_block(y.chain._evm_block(y.chain.head))
        _check_store(x.chain)
    assert not x.chain.has_state(ours)
    assert x.chain.store._conn.execute("SELECT count(*) FROM state_journal").fetchone()[0] < 12


def test_pruning__commit_dies_half_way__leaves_the_previous_block(tmp_path: Path) -> None:
    """A block's commit and its pruning are one SQLite transaction: a failure inside it (here: the first
    deletion of a node of the state leaving the window, after the block's rows went in) leaves the store at
    the previous block, complete; reopened, the node goes on and prunes as before."""
    built, start = _single(tmp_path, state_history=3)
    for n in range(1, 8):
        built.block(_writes(n), SIGNERS[0], start + n)
    before = built.chain.head_record()
    built.chain.store._conn.execute(
        "CREATE TEMP TRIGGER die BEFORE DELETE ON kv BEGIN SELECT RAISE(ABORT, 'killed'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="killed"):
        built.block(_writes(8), SIGNERS[0], start + 8)
    built.chain.store.close()
    reopened = Builder(_doc(SIGNERS[:1], start), tmp_path, state_history=3)
    reopened.nonce = built.nonce - len(_writes(8))
    assert reopened.chain.head_record() == before
    _check_store(reopened.chain)
    for n in range(8, 12):
        reopened.block(_writes(n), SIGNERS[0], start + n)
        _check_store(reopened.chain)
    assert reopened.chain.storage_at(STORE, 1, reopened.chain.head_record()) == 11


def test_pruning__older_datadir__opens_keeps_its_history_and_prunes_new_blocks(tmp_path: Path) -> None:
    """A datadir written before pruning (no counts, no journal) opens; its states stay readable (nothing
    tells which of its nodes are shared, so none is dropped); blocks after it are pruned as usual."""
    built, start = _single(tmp_path, state_history=None)
    for n in range(1, 6):
        built.block(_writes(n), SIGNERS[0], start + n)
    built.chain.store.close()
    db = sqlite3.connect(tmp_path / "chain.sqlite")
    db.executescript(
        "CREATE TABLE old_kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
        "INSERT INTO old_kv SELECT k, v FROM kv; DROP TABLE kv; ALTER TABLE old_kv RENAME TO kv;"
        "DROP TABLE state_journal; DELETE FROM meta WHERE k LIKE 'state%';"
    )
    db.close()
    reopened = Builder(_doc(SIGNERS[:1], start), tmp_path, state_history=2)
    reopened.nonce = built.nonce
    chain = reopened.chain
    for n in range(6, 14):
        reopened.block(_writes(n), SIGNERS[0], start + n)
        _check_store(chain)
    for n in range(0, 6):
        assert chain.storage_at(STORE, 1, chain.header_by_number(n)) == n
    assert not chain.has_state(chain.header_by_number(8))
    assert chain.storage_at(STORE, 1, chain.header_by_number(11)) == 11


# ------------------------------------------------------------------------------------------ node process
def _send_writes(client: Client, sender: LocalAccount, nonce: int, count: int) -> int:
    raws = []
    for i in range(count):
        tx: dict[str, Any] = {
            "to": to_checksum_address(STORE),
            "value": 0,
            "gas": 80_000,
            "chainId": CHAIN_ID,
        }
        tx |= {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "nonce": nonce + i}
        tx |= {"data": (1).to_bytes(32, "big") + (nonce + i + 1).to_bytes(32, "big")}
        raws.append("0x" + sender.sign_transaction(tx).raw_transaction.hex())
    return sum(1 for h in client.batch([("eth_sendRawTransaction", [r]) for r in raws]) if h)


def test_pruning__node_process__pruned_block_answers_geths_error(
    tmp_path: Path, signer: LocalAccount
) -> None:
    """Over JSON-RPC on a node process with ``--state-history 2``: state reads at a pruned block answer -32000
    ``state 0x<root> is not available`` (geth's words) for balance, code, storage, nonce, proof and call; the
    kept blocks and the head answer; blocks, receipts and logs of pruned blocks are all still served."""
    doc = _doc([signer], int(time.time()) - 100)
    files = init_node(tmp_path, doc, bytes(signer.key), password="correct horse")
    client = Client(f"http://127.0.0.1:{free_port()}")
    log = tmp_path / "node.log"
    port = int(client.url.rsplit(":", 1)[1])
    proc = start_node(files, port, ["--seal-on-demand", "--state-history", "2"], log=log)
    try:
        _wait_up(client, proc, log)
        nonce = 0
        while int(client.call("eth_blockNumber"), 16) < 6:
            nonce += _send_writes(client, SENDER, nonce, 1)
            time.sleep(0.05)
        head = int(client.call("eth_blockNumber"), 16)
        raw = RpcClient(client.url)
        old = client.call("eth_getBlockByNumber", "0x1", False)
        store = "0x" + STORE.hex()
        slot = "0x" + "00" * 31 + "01"
        wanted = {"code": -32000, "message": f"state {old['stateRoot']} is not available"}
        for method, params in [
            ("eth_getBalance", [SENDER.address, "0x1"]),
            ("eth_getTransactionCount", [SENDER.address, "0x1"]),
            ("eth_getCode", [store, "0x1"]),
            ("eth_getStorageAt", [store, slot, "0x1"]),
            ("eth_getProof", [store, [slot], "0x1"]),
            ("eth_call", [{"to": store, "data": "0x"}, "0x1"]),
            ("eth_getBalance", [SENDER.address, {"blockHash": old["hash"]}]),
        ]:
            reply = raw.request(method, *params)
            assert reply.get("error") == wanted, (method, reply)
        genesis = client.call("eth_getBlockByNumber", "0x0", False)
        reply = raw.request("eth_getBalance", SENDER.address, "earliest")
        assert reply["error"] == {"code": -32000, "message": f"state {genesis['stateRoot']} is not available"}
        for n in (head - 2, head):
            assert int(client.call("eth_getStorageAt", store, slot, hex(n)), 16) > 0
        assert client.call("eth_getTransactionReceipt", old["transactions"][0])["status"] == "0x1"
        assert client.call("eth_getBlockByNumber", "0x1", True)["transactions"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_pruning__sigkill_while_sealing__leaves_a_complete_store(
    tmp_path: Path, signer: LocalAccount
) -> None:
    """A node process with a short window SIGKILLed while it seals, three times: after each restart it serves
    the head's state, and the store holds every kept state complete and no counted node outside them."""
    doc = _doc([signer], int(time.time()) - 100)
    files = init_node(tmp_path, doc, bytes(signer.key), password="correct horse")
    log = tmp_path / "node.log"
    nonce = 0
    for _round in range(3):
        client = Client(f"http://127.0.0.1:{free_port()}")
        port = int(client.url.rsplit(":", 1)[1])
        proc = start_node(files, port, ["--seal-on-demand", "--state-history", "3"], log=log)
        try:
            _wait_up(client, proc, log)
            nonce = int(client.call("eth_getTransactionCount", SENDER.address, "latest"), 16)
            kill_at = time.monotonic() + 0.8
            while time.monotonic() < kill_at:
                nonce += _send_writes(client, SENDER, nonce, 4)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    chain = Chain(load_genesis(doc), open_store(files.datadir), state_history=3)
    assert chain.head_record().number > 4
    _check_store(chain)


def test_window__side_branch_of_two__both_discarded_once() -> None:
    """The window passes a side branch of two blocks (x at 3 on canonical c2, y at 4 on x) in one commit
    that moves it two heights: the canonical blocks release what they removed, the side blocks what they
    added, each once."""
    from collections import Counter

    from pamchain.node.chain.pruning import commit_refs
    from pamchain.node.state_diff import StateDiff

    def diff(added: bytes, removed: bytes) -> StateDiff:
        return StateDiff({added: b"n"}, Counter({added: 1}), Counter({removed: 1}))

    journal = {3: [b"c3", b"x"], 4: [b"c4", b"y"], 5: [b"c5"]}
    parents = {b"c3": b"c2", b"x": b"c2", b"c4": b"c3", b"y": b"x", b"c5": b"c4"}
    diffs = {h: diff(b"+" + h, b"-" + h) for h in parents}

    class Store:
        def journal(self, number: int) -> list[bytes]:
            return journal.get(number, [])

    refs, kept = commit_refs(
        Store(),  # type: ignore[arg-type]
        diff(b"+c9", b"-c9"),
        (9, b"c9"),
        2,
        4,
        lambda n: b"c%d" % n,
        diffs.__getitem__,
        parents.__getitem__,
    )
    assert kept == 4
    assert Counter(dict(refs.released)) == Counter({b"-c3": 1, b"+x": 1, b"-c4": 1, b"+y": 1})
    assert sorted(refs.forget) == [(3, b"c3"), (3, b"x"), (4, b"c4"), (4, b"y")]
    assert refs.journal == [(9, b"c9")] and refs.added == [(b"+c9", b"n", 1)]


def test_pruning__state_pruned_while_a_call_walks_it__answers_geths_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call off the chain thread checks that its block's state is kept, then walks it; if the window passes
    the block meanwhile (pruning commits on the chain thread), the missing trie nodes it meets answer as a
    pruned state does ("state 0x... is not available", -32000), not as an internal error."""
    from pamchain.node import trie_nodes
    from pamchain.node.chain.reader import CallReader
    from pamchain.node.records import CallRequest
    from trie.exceptions import MissingTrieNode

    built, start = _single(tmp_path, state_history=4)
    chain = built.chain
    for n in range(1, 8):
        built.block(_writes(n), SIGNERS[0], start + n)
    reader = CallReader(chain)
    oldest = chain.header_by_number(chain.head_record().number - 4)
    assert chain.has_state(oldest)
    checked = CallReader._require_state

    def window_passes_after_the_check(self: CallReader, state_root: bytes) -> None:
        checked(self, state_root)
        for n in range(8, 11):
            built.block(_writes(n), SIGNERS[0], start + n)
        trie_nodes.DECODED.clear()  # the walk must go to the store, as it would for a state not read lately
        self._reader._cache.clear()

    monkeypatch.setattr(CallReader, "_require_state", window_passes_after_the_check)
    request = CallRequest(to=STORE, data=(7).to_bytes(32, "big") * 2)
    with pytest.raises(StateUnavailable, match=f"state 0x{oldest.state_root.hex()} is not available"):
        reader.run(lambda r: r.call(request, oldest))
    assert not chain.has_state(oldest)
    monkeypatch.setattr(CallReader, "_require_state", checked)
    assert reader.run(lambda r: r.call(request, chain.head_record())) == b""  # a kept state still answers

    def broken_store(r: CallReader) -> bytes:
        r._require_state(chain.head_record().state_root)
        raise MissingTrieNode(Hash32(b"\x01" * 32), Hash32(chain.head_record().state_root), b"key")

    with pytest.raises(MissingTrieNode):  # a node missing from a state still kept is a fault, not pruning
        reader.run(broken_store)


def test_cli_state_history_default__is_the_chains() -> None:
    """The CLI spells the window out (importing the chain would load py-evm for ``--help``): it must match."""
    from pamchain.node.chain import DEFAULT_STATE_HISTORY
    from pamchain.node.cli import import_, run

    for command in (run, import_):
        option = next(p for p in command.params if p.name == "state_history")
        assert option.default == DEFAULT_STATE_HISTORY
