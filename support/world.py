"""A funded in-process chain (eth-tester) and a deployed suite with a small cast of actors."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.devnet.world import DOMAIN, world_plan
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.deployer import Plan, PrincipalSpec, deploy_plan
from pamchain.sdk.directory import group_target_id
from web3 import EthereumTesterProvider, Web3

# Group targets are keyed like principal ids (issue 16), never the plain keccak of the DN.
PSEUDONYM_KEY = keccak(text="test pseudonym key")
ADMINS_DN = "CN=Domain Admins,CN=Users,DC=corp,DC=example"
ADMINS = group_target_id(PSEUDONYM_KEY, ADMINS_DN)
# Generous for tests that unlock many times; the contract suite tests the limit itself.
UNLOCK_LIMIT, UNLOCK_WINDOW = 1000, 3600


def directory_id(name: str) -> bytes:
    return keccak(text=f"test-directory-id:{name}")


@dataclass
class Cast:
    """A deployed suite and the keys of everyone who acts on it."""

    w3: Web3
    council: list[LocalAccount]
    deployer: LocalAccount
    oracle: LocalAccount
    alice: LocalAccount
    bob: LocalAccount
    carol: LocalAccount
    client: PamClient
    deployment_block: int
    oracle2: LocalAccount | None = None  # funded, not registered: a second site's oracle when a test adds it

    def as_(self, account: LocalAccount) -> PamClient:
        return self.client.as_account(account)


def funded_accounts(w3: Web3, names: list[str]) -> dict[str, LocalAccount]:
    funder = w3.eth.accounts[0]
    out = {}
    for name in names:
        account = Account.from_key(keccak(text=f"pamchain-test-key:{name}"))
        w3.eth.send_transaction({"from": funder, "to": account.address, "value": 10**20})
        out[name] = account
    return out


def standard_plan(accounts: dict[str, LocalAccount], *, grant_cap: int = 3600) -> Plan:
    ids = {name: directory_id(name) for name in ("alice", "bob", "carol")}
    return world_plan(
        [accounts[n].address for n in ("c1", "c2", "c3")],
        accounts["oracle"],
        [PrincipalSpec(accounts[n].address, ids[n], DOMAIN) for n in ids],
        ADMINS,
        (ids["bob"], ids["carol"]),
        (ids["alice"], ids["bob"], ids["carol"]),
        unlock_limit=UNLOCK_LIMIT,
        unlock_window=UNLOCK_WINDOW,
        approvals_required=2,
        max_duration=grant_cap,
        break_glass_approvals=1,  # break-glass always involves a second person
        break_glass_max_duration=900,
    )


def make_cast(w3: Web3 | None = None, **plan_options: int) -> Cast:
    w3 = w3 or Web3(EthereumTesterProvider())
    accounts = funded_accounts(
        w3, ["deployer", "c1", "c2", "c3", "oracle", "oracle2", "alice", "bob", "carol"]
    )
    client, deployment = deploy_plan(w3, accounts["deployer"], standard_plan(accounts, **plan_options))
    return Cast(
        w3=w3,
        council=[accounts[n] for n in ("c1", "c2", "c3")],
        deployer=accounts["deployer"],
        oracle=accounts["oracle"],
        alice=accounts["alice"],
        bob=accounts["bob"],
        carol=accounts["carol"],
        client=client,
        deployment_block=deployment.block,
        oracle2=accounts["oracle2"],
    )
