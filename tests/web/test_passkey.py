"""The passkey on the phone (issue 17 item 2), in Chromium with CDP virtual authenticators: created in the browser,
registered on chain by the council with `pamchain principal register-passkey`, then asked for on approvals,
break-glass and key export; the chain (PamFactors, P256VERIFY) refuses a wrong key and a replayed assertion."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_abi import decode
from eth_account import Account
from pamchain.scripts.cli import main
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.model import Status
from pamchain.sdk.errors import ContractRevert
from pamchain.sdk.keys import create_keystore

from .conftest import ADMINS, PASSPHRASE, Phone, Stack, directory_id, enrolled_phone, wait_for

LOCALHOST = "localhost"  # the relying party the suite was deployed with (Plan.rp_id)


@dataclass
class Council:
    """The CLI as the council's bootstrapper runs it against the test chain."""

    args: list[str]

    def run(self, *argv: str) -> Any:
        return CliRunner().invoke(main, [*argv, *self.args], catch_exceptions=False)


@pytest.fixture(scope="module")
def council(stack: Stack) -> Council:
    folder = stack.tmp / "council-cli"
    keystore, _ = create_keystore(
        folder / "keys", "council pass", private_key=bytes(stack.accounts["deployer"].key)
    )
    (folder / "password").write_text("council pass", encoding="utf-8")
    stack.deployment.save(folder / "deployment.json")
    return Council(
        [
            "--rpc-url",
            stack.node.url,
            "--deployment",
            str(folder / "deployment.json"),
            "--keystore",
            str(keystore),
            "--password-file",
            str(folder / "password"),
        ]
    )


class Authenticators:
    """Chromium's virtual authenticators for one page (CDP WebAuthn domain)."""

    def __init__(self, page: Any) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})

    def add(self, *, verified: bool = True) -> str:
        options = {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": verified,
            "automaticPresenceSimulation": True,
        }
        return str(self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"])

    def remove(self, authenticator: str) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})

    def credentials(self, authenticator: str) -> list[dict[str, Any]]:
        return list(
            self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        )

    def put(self, authenticator: str, credential: dict[str, Any], private_key: str | None = None) -> None:
        """Store `credential` (as getCredentials returned it) in `authenticator`, with another key if given."""
        copy = {k: credential[k] for k in ("credentialId", "isResidentCredential", "rpId", "userHandle")}
        copy.update(privateKey=private_key or credential["privateKey"], signCount=credential["signCount"])
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": authenticator, "credential": copy})


def other_p256_key() -> str:
    """A fresh P-256 private key as CDP wants it (PKCS#8, base64): another authenticator's key."""
    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(der).decode()


@dataclass
class PasskeyPhone:
    phone: Phone
    authenticators: Authenticators
    authenticator: str
    registration: dict[str, Any]

    @property
    def page(self) -> Any:
        return self.phone.page

    @property
    def address(self) -> str:
        return str(self.registration["device"])


@pytest.fixture
def passkey_phone(phone: Any, stack: Stack, council: Council, tmp_path: Path) -> Iterator[Any]:
    """A phone at localhost, enrolled for `name`, whose passkey (a virtual authenticator) the council registered
    on chain from the registration the phone exported, through the CLI."""

    def make(name: str, locale: str = "en-GB") -> PasskeyPhone:
        p = enrolled_phone(phone, stack, name, host=LOCALHOST)
        page = p.page
        authenticators = Authenticators(page)
        authenticator = authenticators.add()
        page.get_by_role("navigation").get_by_role("link", name="Device").click()
        wait_for(
            lambda: "No passkey yet" in page.locator("#passkey-state").inner_text(), what="no passkey yet"
        )
        page.get_by_role("button", name="Create a passkey").click()
        box = page.locator("#passkey-registration")
        box.wait_for()
        registration = json.loads(box.input_value())
        assert registration["directory_id"] == "0x" + directory_id(name).hex()
        assert registration["rp_id"] == LOCALHOST and registration["device"] == stack.enrolled[name]
        wait_for(
            lambda: "waiting for the council" in page.locator("#passkey-state").inner_text(), what="waiting"
        )
        path = tmp_path / f"{name}-passkey.json"
        path.write_text(box.input_value(), encoding="utf-8")
        result = council.run("principal", "register-passkey", str(path))
        assert result.exit_code == 0, result.output
        assert "registered for" in result.output
        assert stack.client.authenticator(directory_id(name)) == (
            int(registration["x"], 16),
            int(registration["y"], 16),
        )
        wait_for(
            lambda: "registered on chain" in page.locator("#passkey-state").inner_text(), what="on chain"
        )
        return PasskeyPhone(p, authenticators, authenticator, registration)

    yield make


def _new_request(stack: Stack) -> int:
    return stack.sdk_device("nina").request_elevation(ADMINS, 60, "rotate the krbtgt key")


def _approve_on_phone(page: Any, rid: int) -> str:
    """Press Approve for `rid` on the Approvals screen; returns the status line once it settles."""
    page.get_by_role("navigation").get_by_role("link", name="Approvals").click()
    page.get_by_role("button", name=f"Approve request {rid}").click()
    status = page.locator("#pending-status")
    try:
        wait_for(
            lambda: (
                "Done" in status.inner_text()
                or "Refused" in status.inner_text()
                or "No passkey" in status.inner_text()
            ),
            what="approval settled",
        )
    except AssertionError as exc:  # what the phone showed instead says why
        raise AssertionError(f"{exc}; the status line reads {status.inner_text()!r}") from exc
    return str(status.inner_text())


def _stolen_key(page: Any, stack: Stack) -> PamClient:
    """What a thief with the phone's keystore file and its passphrase holds: the device key, not the passkey."""
    slot = page.evaluate("() => Object.keys(localStorage).find(k => k.startsWith('pamchain:keystore'))")
    keystore = page.evaluate(f"() => localStorage.getItem({slot!r})")
    return stack.client.as_account(Account.from_key(Account.decrypt(keystore, PASSPHRASE)))


def _calls(stack: Stack, event: str) -> list[tuple[str, dict[str, Any]]]:
    """The PamChain calls (function name, arguments) of the transactions that emitted `event`, oldest first."""
    w3, client = stack.client.w3, stack.client
    logs = w3.eth.get_logs({"address": client.contract.address, "fromBlock": stack.deployment.block})
    hashes = dict.fromkeys(
        log["transactionHash"] for log in logs if type(client.decoder.decode(log)).__name__ == event
    )
    calls = [client.contract.decode_function_input(w3.eth.get_transaction(h)["input"]) for h in hashes]
    return [(fn.fn_name, dict(args)) for fn, args in calls]


def test_passkey__registered_by_council__approval_counted__replay_and_stolen_key_refused(
    passkey_phone: Any, stack: Stack
) -> None:
    kate = passkey_phone("kate")
    page = kate.page
    rid = _new_request(stack)
    assert "Done" in _approve_on_phone(page, rid)
    request = stack.client.request(rid)
    assert request.approvals == 1 and request.status is Status.ACTIVE

    # The approval on chain carries the passkey's assertion over this request's challenge.
    fn, args = _calls(stack, "ApprovalCast")[-1]
    assert fn == "approve_with_assertion" and args["request_id"] == rid
    assertion = bytes(args["assertion"])
    auth, client_data = decode(["(bytes,bytes,uint256,uint256,uint256,uint256)"], assertion)[0][:2]
    assert (
        json.loads(client_data)["type"] == "webauthn.get" and auth[32] & 0x05 == 0x05
    )  # user present, verified

    thief = _stolen_key(page, stack)
    with pytest.raises(ContractRevert, match="not pending"):
        thief.transact("approve_with_assertion", rid, assertion)  # the same signed assertion, re-sent
    rid2 = _new_request(stack)
    with pytest.raises(ContractRevert, match="bad assertion"):
        thief.transact("approve_with_assertion", rid2, assertion)  # replayed onto another request
    with pytest.raises(ContractRevert, match="second factor required"):
        thief.approve(rid2)  # the keystore alone
    assert stack.client.request(rid2).approvals == 0

    # Key export: behind a fresh user-verified answer of the registered passkey.
    page.get_by_role("navigation").get_by_role("link", name="Device").click()
    page.get_by_role("button", name="Export the device key").click()
    wait_for(lambda: "Passkey checked" in page.locator("#export-status").inner_text(), what="export")
    slot = page.evaluate("() => Object.keys(localStorage).find(k => k.startsWith('pamchain:keystore'))")
    assert page.locator("#exported-key").input_value() == page.evaluate(
        f"() => localStorage.getItem({slot!r})"
    )
    assert page.locator("#passkey-registration-box").is_hidden()  # the council has it: no longer shown
    page.locator("#export-status").scroll_into_view_if_needed()
    kate.phone.shot("12-passkey")


def test_passkey__wrong_authenticator__chain_refuses_with_reason__export_refused(
    passkey_phone: Any, stack: Stack
) -> None:
    leo = passkey_phone("leo")
    page = leo.page
    # Another authenticator answering for the same credential id with its own key.
    (registered,) = leo.authenticators.credentials(leo.authenticator)
    leo.authenticators.remove(leo.authenticator)
    other = leo.authenticators.add()
    leo.authenticators.put(other, registered, private_key=other_p256_key())
    rid = _new_request(stack)
    nonce = stack.client.w3.eth.get_transaction_count(leo.address)
    text = _approve_on_phone(page, rid)
    assert "Refused: the chain did not accept the passkey's answer" in text, text
    assert page.locator("#pending-status").get_attribute("role") == "alert"
    page.locator("#pending-status").scroll_into_view_if_needed()
    leo.phone.shot("13-passkey-refused")
    assert stack.client.request(rid).approvals == 0
    assert stack.client.w3.eth.get_transaction_count(leo.address) == nonce  # refused before anything was sent

    page.get_by_role("navigation").get_by_role("link", name="Device").click()
    page.get_by_role("button", name="Export the device key").click()
    status = page.locator("#export-status")
    wait_for(lambda: "not the passkey registered on chain" in status.inner_text(), what="export refused")
    assert page.locator("#export-box").is_hidden() and page.locator("#exported-key").input_value() == ""


def test_passkey__missing_or_cancelled__clear_error__nothing_sent(passkey_phone: Any, stack: Stack) -> None:
    mia = passkey_phone("mia")
    page = mia.page
    (registered,) = mia.authenticators.credentials(mia.authenticator)
    mia.authenticators.remove(mia.authenticator)  # no authenticator attached
    rid = _new_request(stack)
    nonce = stack.client.w3.eth.get_transaction_count(mia.address)
    text = _approve_on_phone(page, rid)
    assert "No passkey answered (none available, or you cancelled): nothing was sent." in text, text
    assert stack.client.w3.eth.get_transaction_count(mia.address) == nonce
    assert stack.client.request(rid).approvals == 0

    # The right passkey, but the person does not confirm (no fingerprint, no PIN): the same, nothing sent.
    unverified = mia.authenticators.add(verified=False)
    mia.authenticators.put(unverified, registered)
    text = _approve_on_phone(page, rid)
    assert "No passkey answered" in text, text
    assert stack.client.w3.eth.get_transaction_count(mia.address) == nonce
    page.get_by_role("navigation").get_by_role("link", name="Device").click()
    page.get_by_role("button", name="Export the device key").click()
    wait_for(
        lambda: "No passkey answered" in page.locator("#export-status").inner_text(), what="export refused"
    )
    assert page.locator("#export-box").is_hidden()

    # Confirmed this time: approved and counted.
    mia.authenticators.cdp.send(
        "WebAuthn.setUserVerified", {"authenticatorId": unverified, "isUserVerified": True}
    )
    assert "Done" in _approve_on_phone(page, rid)
    assert stack.client.request(rid).approvals == 1


def test_passkey__break_glass_on_the_phone__assertion_checked_on_chain(
    passkey_phone: Any, stack: Stack
) -> None:
    olga = passkey_phone("olga")
    page = olga.page
    page.get_by_role("navigation").get_by_role("link", name="Elevation").click()
    page.get_by_label("Duration", exact=True).fill("5")
    page.get_by_label("Unit").select_option(label="minutes")
    page.get_by_label("Justification").fill("DC1 down, restore from backup")
    page.get_by_label("Break-glass: emergency access").check()
    page.get_by_role("button", name="Ask").click()
    status = page.locator("#elevate-status")
    wait_for(lambda: "Sent: request" in status.inner_text() or "Refused" in status.inner_text(), what="sent")
    assert "Sent: request" in status.inner_text(), status.inner_text()
    rid = int(status.inner_text().rsplit(" ", 1)[1].rstrip("."))
    request = stack.client.request(rid)
    assert request.break_glass and request.subject == directory_id("olga") and request.duration == 300
    fn, args = _calls(stack, "RequestCreated")[-1]
    assert fn == "request_break_glass" and args["duration"] == 300

    # The same screens in French.
    page.get_by_label("Language").select_option("fr")
    page.get_by_role("navigation").get_by_role("link", name="Appareil").click()
    page.get_by_role("heading", name="Clé d'accès").wait_for()
    wait_for(
        lambda: "enregistrée sur la chaîne" in page.locator("#passkey-state").inner_text(), what="fr state"
    )
    assert page.get_by_role("button", name="Exporter la clé de l'appareil").count() == 1


def _registration(stack: Stack, signer: Any, **changes: Any) -> str:
    """A registration as the phone makes it, for nina's enrolled device, signed by `signer`; `changes` are
    applied after signing (a tampered file) unless they are named in `signed`."""
    from eth_account.messages import encode_defunct
    from pamchain.sdk.chain.passkeys import registration_message

    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    signed = changes.pop("signed", {})
    fields: dict[str, Any] = {
        "kind": "pamchain-passkey",
        "v": 1,
        "chain_id": stack.deployment.chain_id,
        "contract": stack.deployment.address,
        "device": stack.enrolled["nina"],
        "directory_id": "0x" + directory_id("nina").hex(),
        "rp_id": LOCALHOST,
        "credential_id": base64.urlsafe_b64encode(b"c" * 20).rstrip(b"=").decode(),
        "x": f"0x{key.x:064x}",
        "y": f"0x{key.y:064x}",
        **signed,
    }
    message = registration_message(
        int(fields["chain_id"]),
        str(fields["contract"]),
        bytes.fromhex(str(fields["directory_id"])[2:]),
        str(fields["rp_id"]),
        str(fields["credential_id"]),
        int(str(fields["x"]), 16),
        int(str(fields["y"]), 16),
    )
    fields["signature"] = "0x" + signer.sign_message(encode_defunct(text=message)).signature.hex()
    return json.dumps({**fields, **changes})


@pytest.mark.parametrize(
    ("case", "refusal"),
    [
        ("another key signed it", "not by the device it names"),
        ("key swapped after signing", "not by the device it names"),
        ("another relying party", "another relying party"),
        ("another chain", "not this deployment"),
        ("not the principal's device", "enrol the phone first"),
        ("not a curve point", "not a P-256 point"),
        ("not JSON", "not a passkey registration"),
    ],
)
def test_register_passkey__bad_registration__cli_refuses_and_registers_nothing(
    stack: Stack, council: Council, tmp_path: Path, case: str, refusal: str
) -> None:
    nina = stack.sdk_device("nina").account
    assert nina is not None
    stranger = Account.from_key(b"\x07" * 32)
    swapped = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    text = {
        "another key signed it": lambda: _registration(stack, stranger),
        "key swapped after signing": lambda: _registration(
            stack, nina, x=f"0x{swapped.x:064x}", y=f"0x{swapped.y:064x}"
        ),
        "another relying party": lambda: _registration(stack, nina, signed={"rp_id": "pam.evil.example"}),
        "another chain": lambda: _registration(stack, nina, signed={"chain_id": 1}),
        "not the principal's device": lambda: _registration(
            stack, stranger, signed={"device": stranger.address}
        ),
        "not a curve point": lambda: _registration(stack, nina, signed={"y": "0x" + "11" * 32}),
        "not JSON": lambda: "pamchain-passkey x=1",
    }[case]()
    path = tmp_path / "registration.json"
    path.write_text(text, encoding="utf-8")
    result = council.run("principal", "register-passkey", str(path))
    assert result.exit_code != 0 and refusal in result.output, result.output
    assert "Traceback" not in result.output
    assert not stack.client.has_factor(directory_id("nina"))


def test_register_passkey__only_the_council__then_show_and_remove(
    stack: Stack, council: Council, tmp_path: Path
) -> None:
    nina = stack.sdk_device("nina").account
    assert nina is not None
    path = tmp_path / "registration.json"
    path.write_text(_registration(stack, nina), encoding="utf-8")
    # nina's own key is no council member: her registration of herself is refused by the chain.
    folder = tmp_path / "nina"
    keystore, _ = create_keystore(folder, "nina pass", private_key=bytes(nina.key))
    (tmp_path / "nina-password").write_text("nina pass", encoding="utf-8")
    own = [
        *council.args[: council.args.index("--keystore")],
        "--keystore",
        str(keystore),
        "--password-file",
        str(tmp_path / "nina-password"),
    ]
    result = CliRunner().invoke(
        main, ["principal", "register-passkey", str(path), *own], catch_exceptions=False
    )
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert not stack.client.has_factor(directory_id("nina"))

    result = council.run("principal", "register-passkey", str(path))
    assert result.exit_code == 0, result.output
    assert stack.client.has_factor(directory_id("nina"))
    reader = council.args[: council.args.index("--keystore")]
    shown = CliRunner().invoke(main, ["principal", "show", "0x" + directory_id("nina").hex(), *reader])
    assert "passkey       registered" in shown.output, shown.output
    result = council.run("principal", "remove-passkey", "0x" + directory_id("nina").hex())
    assert result.exit_code == 0, result.output
    assert not stack.client.has_factor(directory_id("nina"))
