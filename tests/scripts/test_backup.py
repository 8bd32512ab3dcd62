"""``pamchain backup`` / ``pamchain restore``: an online snapshot of a sealing node, journals and a payload
store, restored verified; tampered archives and occupied targets refused with one line."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest
import requests
from eth_account import Account
from eth_utils import keccak
from pamchain.node import make_genesis, run_node
from pamchain.sdk.backup import BackupError, Part, create, restore, verify
from pamchain.sdk.chain.transactions import wait_until

from .conftest import invoke

SIGNER = Account.from_key(keccak(text="backup-test-signer"))
USER = Account.from_key(keccak(text="backup-test-user"))
GENESIS = make_genesis([SIGNER.address], 1337, {USER.address: 10**24})


def _rpc(url: str, method: str, *params: object) -> object:
    reply = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10
    )
    return reply.json()["result"]


def _transfer(url: str, nonce: int) -> str:
    raw = USER.sign_transaction(
        {"to": SIGNER.address, "value": 1, "gas": 21000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1,
         "nonce": nonce, "chainId": 1337}
    ).raw_transaction  # fmt: skip
    return str(_rpc(url, "eth_sendRawTransaction", "0x" + raw.hex()))


def test_node_backed_up_while_sealing__restored_node_has_every_receipt_seen_before(tmp_path: Path) -> None:
    datadir, archive = tmp_path / "node", tmp_path / "site.tar.gz"
    stop = threading.Event()
    nonces = iter(range(10**6))
    with run_node(GENESIS, SIGNER.key, datadir) as node:
        (datadir / "nodekey").write_text("ab" * 32 + "\n")
        before = [_transfer(node.url, next(nonces)) for _ in range(5)]
        wait_until(lambda: all(_rpc(node.url, "eth_getTransactionReceipt", tx) for tx in before), timeout=30)
        acknowledged = {tx: _rpc(node.url, "eth_getTransactionReceipt", tx)["blockHash"] for tx in before}  # type: ignore[index]

        def traffic() -> None:  # the node keeps sealing while the backup runs
            while not stop.is_set():
                _transfer(node.url, next(nonces))

        writer = threading.Thread(target=traffic)
        writer.start()
        try:
            result = invoke(["backup", "--out", str(archive), "--node-datadir", str(datadir), "--json"])
        finally:
            stop.set()
            writer.join()
        assert result.exit_code == 0, result.output
        head_after = int(str(_rpc(node.url, "eth_blockNumber")), 16)
    assert archive.stat().st_mode & 0o777 == 0o600
    assert json.loads(result.stdout)["files"] == {"node": 2}  # an in-process node has no genesis.json

    restored = tmp_path / "restored"
    again = invoke(["restore", str(archive), "--node-datadir", str(restored)])
    assert again.exit_code == 0, again.output
    assert (restored / "nodekey").read_text() == "ab" * 32 + "\n"
    with run_node(GENESIS, SIGNER.key, restored) as node:
        head = int(str(_rpc(node.url, "eth_blockNumber")), 16)
        assert head <= head_after
        for tx, block_hash in acknowledged.items():  # every receipt a client saw before the backup
            assert _rpc(node.url, "eth_getTransactionReceipt", tx)["blockHash"] == block_hash  # type: ignore[index]
        parent = None
        for n in range(head + 1):
            block = _rpc(node.url, "eth_getBlockByNumber", hex(n), False)
            assert isinstance(block, dict) and (parent is None or block["parentHash"] == parent)
            parent = block["hash"]
        nonce = int(str(_rpc(node.url, "eth_getTransactionCount", USER.address, "latest")), 16)
        tx = _transfer(node.url, nonce)
        wait_until(lambda: _rpc(node.url, "eth_getTransactionReceipt", tx), timeout=30)  # it seals on


def test_node_backup__consistent_while_a_writer_commits(tmp_path: Path) -> None:
    """A writer committing continuously never leaves a torn copy: every snapshot passes integrity and holds
    a prefix of the writer's rows."""
    db = tmp_path / "live.sqlite"
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, pad BLOB)")
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t VALUES (?, randomblob(2000))", (n,))
            conn.execute("COMMIT")
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for i in range(5):
            archive = tmp_path / f"b{i}.tar.gz"
            create([Part("store", tmp_path, ("live.sqlite",))], archive)
            target = tmp_path / f"r{i}"
            restore(archive, {"store": target})
            rows = [
                r[0] for r in sqlite3.connect(target / "live.sqlite").execute("SELECT n FROM t ORDER BY n")
            ]
            assert rows == list(range(len(rows)))
    finally:
        stop.set()
        writer.join()
        conn.close()


def test_journal_payloads_keystore__round_trip_and_refusals(tmp_path: Path) -> None:
    journal = tmp_path / "oracle" / "journal.sqlite3"
    journal.parent.mkdir()
    sqlite3.connect(journal).executescript("CREATE TABLE a (x); INSERT INTO a VALUES (42);")
    store = tmp_path / "payloads"
    store.mkdir()
    (store / ("0x" + "ab" * 32)).write_bytes(b"sealed")
    sqlite3.connect(store / "index.sqlite3").executescript("CREATE TABLE i (y); INSERT INTO i VALUES (7);")
    (store / "index.sqlite3-wal").write_bytes(b"never copied")
    keystore = tmp_path / "signer.json"
    keystore.write_text('{"crypto": "encrypted"}')
    archive = tmp_path / "b.tar.gz"
    made = invoke(
        ["backup", "--out", str(archive), "--oracle-journal", str(journal), "--payload-store-dir", str(store),
         "--keystore-file", str(keystore)]
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    manifest = verify(archive)
    assert set(manifest.files("payload-store")) == {"0x" + "ab" * 32, "index.sqlite3"}

    occupied = invoke(["restore", str(archive), "--oracle-journal", str(journal)])
    assert (
        occupied.exit_code == 1
        and occupied.stderr.startswith("error: oracle-journal:")
        and "exists" in occupied.stderr
    )
    target = tmp_path / "new"
    done = invoke(
        ["restore", str(archive), "--oracle-journal", str(target / "j.sqlite3"), "--payload-store-dir",
         str(target / "p"), "--keystore-file", str(target / "k.json")]
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert sqlite3.connect(target / "j.sqlite3").execute("SELECT x FROM a").fetchone() == (42,)
    assert (target / "p" / ("0x" + "ab" * 32)).read_bytes() == b"sealed"
    assert not (target / "p" / "index.sqlite3-wal").exists()
    assert json.loads((target / "k.json").read_text()) == {"crypto": "encrypted"}
    forced = invoke(["restore", str(archive), "--oracle-journal", str(journal), "--force"])
    assert forced.exit_code == 0, forced.output


def test_tampered_archive__refused_before_anything_is_written(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    sqlite3.connect(journal).executescript("CREATE TABLE a (x); INSERT INTO a VALUES (1);")
    archive = tmp_path / "b.tar.gz"
    create([Part("oracle-journal", journal)], archive)
    tampered = tmp_path / "t.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name.endswith("journal.sqlite3") and data is not None:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(member, None if data is None else io.BytesIO(data))
    with pytest.raises(BackupError, match="does not match its hash"):
        restore(tampered, {"oracle-journal": tmp_path / "out.sqlite3"})
    assert not (tmp_path / "out.sqlite3").exists()
    result = invoke(["restore", str(tampered), "--check-only"])
    assert result.exit_code == 1 and "does not match its hash" in result.stderr
    garbage = tmp_path / "g.tar.gz"
    garbage.write_bytes(b"not an archive")
    assert invoke(["restore", str(garbage), "--check-only"]).exit_code == 1
    assert invoke(["backup", "--out", str(tmp_path / "x.tar.gz")]).exit_code == 2  # nothing named


def test_node_file_names__match_the_node() -> None:
    from pamchain.node.p2p.identity import NODE_KEY_FILE
    from pamchain.node.service import GENESIS_FILE
    from pamchain.node.storage import open_store
    from pamchain.scripts.backup_commands import NODE_FILES

    assert NODE_FILES == (GENESIS_FILE, "chain.sqlite", NODE_KEY_FILE)
    assert "chain.sqlite" in open_store.__code__.co_consts
