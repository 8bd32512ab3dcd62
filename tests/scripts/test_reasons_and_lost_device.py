"""The CLI says why the chain refused in the user's terms (English and French), and a council member turns a
phone's lost-device code into a suspension."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from pamchain.sdk.chain.client import Deployment
from pamchain.sdk.chain.lost_device import encode_code, lost_device_message
from pamchain.sdk.chain.model import PrincipalStatus

from .conftest import GROUP_DN, Live


def test_request_elevate__too_long__the_policy_cap_in_the_users_terms(live: Live) -> None:
    before = live.client().request_count()
    refused = live.cli(
        "alice",
        "request",
        "elevate",
        GROUP_DN,
        "--duration",
        "7200",
        extra_env={"PAMCHAIN_LANG": "", "LANG": "C.UTF-8"},
    )
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert refused.stderr.strip() == (
        "error: the policy for Domain Admins allows at most 1 h (requests: bad duration)"
    )
    french = live.cli(
        "alice", "request", "elevate", GROUP_DN, "--duration", "7200", extra_env={"PAMCHAIN_LANG": "fr"}
    )
    assert french.exit_code == 1
    assert french.stderr.strip() == (
        "error: la politique pour Domain Admins permet au plus 1 h (requests: bad duration)"
    )
    assert live.client().request_count() == before


def test_approve_own_request__refusal_in_the_users_terms(live: Live) -> None:
    rid = live.json("alice", "request", "elevate", GROUP_DN, "--duration", "60")["request_id"]
    own = live.cli("alice", "approve", str(rid), extra_env={"PAMCHAIN_LANG": "", "LANG": "fr_FR.UTF-8"})
    assert own.exit_code == 1
    assert own.stderr.strip() == (
        "error: vous ne pouvez pas approuver ni refuser votre propre demande (requests: self-approval)"
    )
    assert live.cli("bob", "deny", str(rid), "--reason", "not needed").exit_code == 0


def _enrolled(live: Live, id_byte: str) -> tuple[object, str]:
    device = Account.create()
    directory_id = "0x" + id_byte * 32
    proposed = live.cli("c1", "principal", "enrol", device.address, directory_id, "--domain", "corp.example")
    assert proposed.exit_code == 0, proposed.output
    proposal_id = proposed.stdout.split("#")[1].split()[0]
    assert live.json("c2", "council", "approve", proposal_id)["executed"] is True
    return device, directory_id


def _code(device: object, chain_id: int, contract: str) -> str:
    signed = Account.sign_message(encode_defunct(text=lost_device_message(chain_id, contract)), device.key)  # type: ignore[attr-defined]
    return encode_code(bytes(signed.signature))


def test_lost_device__council_member_suspends_with_the_phones_code(live: Live) -> None:
    device, directory_id = _enrolled(live, "c7")
    contract = Deployment.load(live.deployment_file).address
    code = _code(device, 1337, contract)
    assert len(code.replace("-", "")) == 104

    # Not a council member (alice): the chain refuses, said in her terms; nothing changes.
    refused = live.cli("alice", "principal", "lost-device", code)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "error: only a council member can suspend someone (suspension: not council)"
    )
    assert live.client().principal(bytes.fromhex(directory_id[2:])).status is PrincipalStatus.ACTIVE

    # A code for another deployment, or mangled, names nobody.
    other = live.cli("c1", "principal", "lost-device", _code(device, 1, contract))
    assert other.exit_code == 1 and "is not any principal's current device" in other.stderr
    mangled = live.cli("c1", "principal", "lost-device", code[:-5])
    assert mangled.exit_code == 1 and mangled.stderr.startswith("error: not a lost-device code")

    typed = code.lower().replace("-", " ").replace("o", "0").replace("i", "1")  # as copied by hand
    done = live.json("c3", "principal", "lost-device", typed)
    assert done["directory_id"] == directory_id and done["device"] == device.address  # type: ignore[attr-defined]
    assert live.client().principal(bytes.fromhex(directory_id[2:])).status is PrincipalStatus.SUSPENDED
    again = live.cli("c3", "principal", "lost-device", code)
    assert again.exit_code == 1 and "already suspended" in again.stderr
