"""A peer holding an allowlisted node key (a stolen site certificate, or a site gone rogue) attacks node
processes over real links: forged blocks with an endless loop under a huge gas limit, and a sync it tries to
capture by claiming a heavier chain and answering with blocks the victim has. The victim checks before it
executes, drops the peer, refuses it for a doubling cool-off, and keeps sealing and following the honest
chain at the rate it has without the attack. Figures go to stdout (``-s``) and to PAMCHAIN_FAULT_REPORT."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import rlp
from eth_hash.auto import keccak
from eth_keys import keys
from pamchain.node.p2p import wire
from pamchain.node.p2p.certificate import TlsIdentity

from support.cluster import CHAIN_ID, Cluster, Member, wait_for

from .test_link_faults import _connect_as, _log, _report

ENDLESS_LOOP = bytes.fromhex("5b600056")  # JUMPDEST PUSH1 0 JUMP: init code that never ends
HUGE_GAS = 2_000_000_000  # what the forged header claims, and the loop's gas: minutes of py-evm if run


def _raw_block(m: Member, number: int) -> bytes:
    return bytes.fromhex(m.rpc.call("debug_getRawBlock", hex(number))[2:])


def _forged_block(victim: Member, cluster: Cluster, sealer: bytes) -> bytes:
    """The victim's head block re-made as its child: gas limit HUGE_GAS, one endless-loop contract creation
    (signed by the funded user, so only the seal and the header can refuse it), sealed by ``sealer``."""
    head = victim.rpc.number()
    header, _txs, *rest = rlp.decode(_raw_block(victim, head))
    nonce = int(victim.rpc.call("eth_getTransactionCount", cluster.user.address, "latest"), 16)
    loop = cluster.user.sign_transaction(
        {"data": ENDLESS_LOOP, "value": 0, "gas": HUGE_GAS, "maxFeePerGas": 10**10,
         "maxPriorityFeePerGas": 10**9, "nonce": nonce, "chainId": CHAIN_ID, "type": 2}
    )  # fmt: skip
    fields = list(header)
    fields[0] = keccak(rlp.encode(header))  # parent: the head
    fields[8] = (head + 1).to_bytes(8, "big").lstrip(b"\0")
    fields[9] = HUGE_GAS.to_bytes(4, "big")
    fields[11] = (int.from_bytes(header[11], "big") + 1).to_bytes(8, "big").lstrip(b"\0")
    vanity = bytes(fields[12][:-65])
    fields[12] = vanity
    signature = keys.PrivateKey(sealer).sign_msg_hash(keccak(rlp.encode(fields)))
    fields[12] = vanity + signature.to_bytes()
    return bytes(rlp.encode([fields, [bytes(loop.raw_transaction)], *rest]))


def _rate(m: Member, seconds: float, during: Callable[[], Any] | None = None) -> tuple[float, float]:
    """Blocks per second on ``m`` over ``seconds`` (a measurement window, not a wait for a condition), and
    the slowest eth_getBalance answer in it; ``during`` runs in between, again and again."""
    start_number, started, slowest = m.rpc.number(), time.monotonic(), 0.0
    end = started + seconds
    while time.monotonic() < end:
        if during is not None:
            during()
        asked = time.monotonic()
        m.rpc.call("eth_getBalance", "0x" + "11" * 20, "latest", timeout=30)
        slowest = max(slowest, time.monotonic() - asked)
        time.sleep(0.1)
    return (m.rpc.number() - start_number) / (time.monotonic() - started), slowest


def _genesis(m: Member) -> bytes:
    return bytes.fromhex(m.rpc.block(0)["hash"][2:])


async def _link(victim: Member, attacker: TlsIdentity, outcomes: list[str]) -> wire.Session | None:
    """A started link to ``victim``, or None with the refusal appended to ``outcomes``."""
    try:
        session = await _connect_as(victim, attacker, _genesis(victim))
    except wire.HandshakeError as exc:
        outcomes.append(f"refused: {exc}")
        return None
    session.start()
    return session


def test_forged_blocks__refused_unexecuted__sender_cooled_off__sealing_unaffected(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(2, start=False, signers=1)
    a, x = cluster.members  # a seals; x's keys are in the attacker's hands (allowlisted, not a signer)
    a.extra_args = (*a.extra_args, "--rpc-debug")
    cluster.start(a)
    wait_for(lambda: a.rpc.number() >= 2, 30, "a sealed")
    attacker = TlsIdentity.create(x.node_key)
    sent: list[str] = []

    def attack() -> None:
        async def once() -> None:
            if (session := await _link(a, attacker, sent)) is None:
                return
            block = _forged_block(a, cluster, bytes(x.signer.key))
            await session.send(wire.NEW_BLOCK, rlp.encode([block, 10**30]))
            while await session.recv() is not None:  # until a drops us
                pass
            sent.append("forged block sent")
            await session.close()

        asyncio.run(asyncio.wait_for(once(), 20))

    baseline, baseline_slowest = _rate(a, 6)
    attacked, attacked_slowest = _rate(a, 12, during=attack)
    assert sent[0] == "forged block sent", sent
    refusals = [s for s in sent if s.startswith("refused")]
    assert refusals and all("cooling off" in s for s in refusals), sent
    assert sent.count("forged block sent") <= 2  # 10 s then 20 s of cool-off in a 12 s window
    log = _log(a)
    assert "sent an invalid block" in log and "Traceback" not in log
    assert attacked >= 0.8 * baseline and attacked >= 0.7, (baseline, attacked)
    assert attacked_slowest < 1.0, attacked_slowest  # nothing held the chain thread
    assert a.rpc.call("eth_getTransactionCount", cluster.user.address, "latest") == "0x0"  # loop never mined
    _report(
        "forged blocks from an allowlisted peer",
        {
            "blocks_per_s_without": round(baseline, 2),
            "blocks_per_s_during": round(attacked, 2),
            "slowest_read_s_without": round(baseline_slowest, 3),
            "slowest_read_s_during": round(attacked_slowest, 3),
            "attempts": len(sent),
            "links_refused": len(refusals),
        },
    )


def test_sync_capture__liar_dropped_and_cooled_off__victim_follows_the_honest_chain(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(3, start=False, signers=1)
    a, v, x = cluster.members  # a seals, v follows a, x's keys are the attacker's
    a.extra_args = (*a.extra_args, "--rpc-debug")
    cluster.bootnodes = [a.enode]
    cluster.start(a)
    cluster.start(v)
    wait_for(lambda: v.rpc.number() >= 3, 45, "v follows a")
    attacker = TlsIdentity.create(x.node_key)
    known = [_raw_block(a, n) for n in range(1, v.rpc.number() + 1)]  # blocks v already has
    outcomes: list[str] = []
    lags: list[int] = []

    async def capture() -> None:
        if (session := await _link(v, attacker, outcomes)) is None:
            return
        await session.send(wire.STATUS, rlp.encode([10**6, b"\x77" * 32, 10**30, 0]))
        requests = 0
        while (message := await session.recv()) is not None:
            code, payload = message
            if code == wire.GET_BLOCKS:
                requests += 1
                rid = rlp.decode(payload)[0]
                await session.send(wire.BLOCKS, rlp.encode([rid, known]))
        outcomes.append(f"dropped after {requests} requests")
        await session.close()

    def attack_and_watch() -> None:
        asyncio.run(asyncio.wait_for(capture(), 30))
        lags.append(a.rpc.number() - v.rpc.number())

    baseline, _ = _rate(v, 5)
    attacked, slowest = _rate(v, 12, during=attack_and_watch)
    assert outcomes[0].startswith("dropped"), outcomes
    assert any("cooling off" in o for o in outcomes[1:]), outcomes  # reconnecting at once is refused
    assert "sends no block we lack" in _log(v) and "Traceback" not in _log(v)
    assert attacked >= 0.8 * baseline and attacked >= 0.7, (baseline, attacked)
    wait_for(lambda: a.rpc.number() - v.rpc.number() <= 1, 10, "v at a's head")
    _report(
        "sync capture by an allowlisted peer",
        {
            "blocks_per_s_followed_without": round(baseline, 2),
            "blocks_per_s_followed_during": round(attacked, 2),
            "max_lag_blocks_during": max(lags),
            "slowest_read_s_during": round(slowest, 3),
            "attempts": len(outcomes),
        },
    )
