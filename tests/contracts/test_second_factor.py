"""A second factor the chain checks (issue 17 item 2): with PamFactors set, a principal whose passkey the
council registered approves and asks for break-glass only with a WebAuthn assertion over the challenge PamChain
computes for that act; a stolen device key alone cannot. Assertions are built as a browser builds them and
checked by the node's own P256VERIFY inside titanoboa."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boa
import pytest
from boa.vm.py_evm import deregister_raw_precompile, register_raw_precompile
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_abi import encode
from pamchain.contracts import source_dir
from pamchain.node.chain.p256 import ADDRESS, p256verify
from pamkit import GROUP, HOUR, Actions, World, h

RP_HASH = hashlib.sha256(b"pam.example.com").digest()
ASSERTION_ABI = "(bytes,bytes,uint256,uint256,uint256,uint256)"


@pytest.fixture(scope="module", autouse=True)
def _precompile() -> Iterator[None]:
    register_raw_precompile(ADDRESS, p256verify, force=True)
    yield
    deregister_raw_precompile(ADDRESS)


@pytest.fixture(scope="session")
def factors_deployer() -> Any:
    return boa.load_partial(str(source_dir() / "PamFactors.vy"))


class Passkey:
    """A person's authenticator: signs a challenge as a browser and authenticator do."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        point = self.key.public_key().public_numbers()
        self.public = (point.x, point.y)

    def assert_(self, challenge: bytes, *, flags: int = 0x05) -> bytes:
        auth = RP_HASH + bytes([flags]) + (1).to_bytes(4, "big")
        b64 = base64.urlsafe_b64encode(challenge).rstrip(b"=").decode()
        client = json.dumps(
            {"type": "webauthn.get", "challenge": b64, "origin": "https://pam.example.com"},
            separators=(",", ":"),
        ).encode()
        r, s = decode_dss_signature(
            self.key.sign(auth + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        )
        shaped = (auth, client, client.find(b'"type"'), client.find(b'"challenge"'), r, s)
        return encode([ASSERTION_ABI], [shaped])


@pytest.fixture
def factors(factors_deployer: Any, council: Any, pam: Any, world: World) -> Any:
    """PamFactors bound to the council, set on PamChain, with bob's and alice's passkeys registered (bootstrap)."""
    with boa.env.prank(world.deployer):
        contract = factors_deployer.deploy(council.address, RP_HASH, True)
        pam.set_factors(contract.address)
    return contract


@pytest.fixture
def keys(factors: Any, world: World) -> dict[str, Passkey]:
    keys = {name: Passkey() for name in ("alice", "bob")}
    with boa.env.prank(world.deployer):
        for name, passkey in keys.items():
            factors.set_authenticator(World.id(name), passkey.public)
    return keys


def test_approve__approver_with_a_passkey__device_key_alone_refused(
    act: Actions, keys: dict[str, Passkey]
) -> None:
    request_id = act.elevate("alice")
    with act.as_("bob"), boa.reverts("requests: second factor required"):
        act.pam.approve(request_id)


def test_approve_with_assertion__counts_once(act: Actions, keys: dict[str, Passkey]) -> None:
    request_id = act.elevate("alice")
    assertion = keys["bob"].assert_(act.pam.approval_challenge(request_id, World.id("bob")))
    with act.as_("bob"):
        act.pam.approve_with_assertion(request_id, assertion)
    assert act.pam.has_approved(request_id, World.id("bob"))
    with act.as_("bob"), boa.reverts("requests: already approved"):
        act.pam.approve_with_assertion(request_id, assertion)  # replayed: the approval is cast once


def test_approve_with_assertion__for_another_request__refused(act: Actions, keys: dict[str, Passkey]) -> None:
    first, second = act.elevate("alice"), act.unlock("carol")
    assertion = keys["bob"].assert_(act.pam.approval_challenge(first, World.id("bob")))
    with act.as_("bob"), boa.reverts("second_factor: bad assertion"):
        act.pam.approve_with_assertion(second, assertion)


def test_approve_with_assertion__someone_elses_passkey__refused(
    act: Actions, keys: dict[str, Passkey]
) -> None:
    request_id = act.elevate("carol")
    stolen = keys["alice"].assert_(act.pam.approval_challenge(request_id, World.id("bob")))
    with act.as_("bob"), boa.reverts("second_factor: bad assertion"):
        act.pam.approve_with_assertion(request_id, stolen)


def test_approve_with_assertion__no_user_verification__refused(
    act: Actions, keys: dict[str, Passkey]
) -> None:
    request_id = act.elevate("alice")
    assertion = keys["bob"].assert_(act.pam.approval_challenge(request_id, World.id("bob")), flags=0x01)
    with act.as_("bob"), boa.reverts("second_factor: bad assertion"):
        act.pam.approve_with_assertion(request_id, assertion)


def test_approve_with_assertion__garbage__refused_not_a_crash(act: Actions, keys: dict[str, Passkey]) -> None:
    request_id = act.elevate("alice")
    with act.as_("bob"), boa.reverts():
        act.pam.approve_with_assertion(request_id, b"\x01" * 64)
    assert not act.pam.has_approved(request_id, World.id("bob"))


def test_approve__approver_without_a_passkey__as_before(act: Actions, keys: dict[str, Passkey]) -> None:
    request_id = act.elevate("alice")
    act.approve(request_id, "carol")  # carol has no passkey registered
    assert act.pam.has_approved(request_id, World.id("carol"))


def test_break_glass__requester_with_a_passkey__needs_the_assertion(
    act: Actions, keys: dict[str, Passkey]
) -> None:
    with act.as_("alice"), boa.reverts("requests: second factor required"):
        act.pam.request_elevation(GROUP, HOUR, h("why"), h("CHG-1"), True)
    challenge = act.pam.break_glass_challenge(World.id("alice"), GROUP, HOUR)
    assertion = keys["alice"].assert_(challenge)
    with act.as_("alice"):
        request_id = act.pam.request_break_glass(GROUP, HOUR, h("why"), h("CHG-1"), assertion)
    assert act.pam.request(request_id)[11] is True  # break_glass
    with act.as_("alice"), boa.reverts("second_factor: bad assertion"):
        act.pam.request_break_glass(
            GROUP, HOUR, h("why"), h("CHG-1"), assertion
        )  # bound to the id it created


def test_second_factor__off_without_pamfactors(act: Actions, world: World) -> None:
    request_id = act.elevate("alice")
    act.approve(request_id, "bob")  # no PamFactors set: the device key suffices
    with act.as_("bob"), boa.reverts("second_factor: not configured"):
        act.pam.request_break_glass(GROUP, HOUR, h("why"), h("CHG-1"), b"")


def test_set_factors__governed_and_a_contract(act: Actions, factors: Any, world: World) -> None:
    with boa.env.prank(world.council[0]), boa.reverts("council: not governance"):
        act.pam.set_factors(factors.address)
    with boa.env.prank(world.deployer), boa.reverts("second_factor: not a contract"):
        act.pam.set_factors(world.stranger)


def test_factors__registration_is_governed_and_checked(factors: Any, world: World) -> None:
    key = Passkey().public
    with boa.env.prank(world.council[0]), boa.reverts("council: not governance"):
        factors.set_authenticator(World.id("carol"), key)
    with boa.env.prank(world.deployer):
        with boa.reverts("factors: bad key"):
            factors.set_authenticator(World.id("carol"), (0, key[1]))
        with boa.reverts("factors: zero id"):
            factors.set_authenticator(b"\0" * 32, key)
        factors.set_authenticator(World.id("carol"), key)
        assert factors.has_factor(World.id("carol"))
        factors.remove_authenticator(World.id("carol"))
        assert not factors.has_factor(World.id("carol"))
        with boa.reverts("factors: no authenticator"):
            factors.remove_authenticator(World.id("carol"))
        with boa.reverts("factors: zero relying party"):
            factors.set_relying_party(b"\0" * 32, True)
