"""No funding dance, end to end on a node process: a deployment genesis funds nobody, the suite is deployed and
governed for free, and a device the council enrols (it never held ether) submits a request at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from pamchain.node.genesis import deployment_genesis
from pamchain.sdk import errors
from pamchain.sdk.chain.client import connect
from pamchain.sdk.chain.deployer import deploy_plan
from pamchain.sdk.chain.events import GenericEvent
from pamchain.sdk.chain.transactions import Sender

from support import chains
from support.node_process import init_node, node_process
from support.world import DOMAIN, standard_plan

pytestmark = pytest.mark.integration


def test_enrolled_device_never_funded__requests_at_once__stranger_refused(tmp_path: Path) -> None:
    accounts = chains.test_accounts()
    signer = Account.from_key(keccak(text="free-gas-suite-signer"))
    genesis = deployment_genesis([signer.address], 1337, {}, accounts["deployer"].address)  # nobody funded
    files = init_node(tmp_path, genesis, bytes(signer.key))
    with node_process(files, ["--seal-on-demand"], log=tmp_path / "node.log") as (url, _proc):
        w3 = connect(url)
        client, _ = deploy_plan(w3, accounts["deployer"], standard_plan(accounts))
        assert not client.bootstrapping()
        device = Account.create()
        stranger = Account.create()

        # The council enrols the new device, 2-of-3; neither member ever held ether either.
        proposed = client.as_account(accounts["c1"]).enrol(device.address, keccak(text="new hire"), DOMAIN)
        proposal_id = next(
            e.args["proposal_id"]
            for e in proposed.events
            if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
        )
        client.as_account(accounts["c2"]).approve_proposal(proposal_id)

        request_id = client.as_account(device).request_unlock()  # at once: no funding step
        request = client.request(request_id)
        assert request.requester == device.address and request.status.name == "APPROVED"  # self-service
        assert w3.eth.get_balance(device.address) == 0
        for name in ("deployer", "c1", "c2", "alice"):
            assert w3.eth.get_balance(accounts[name].address) == 0

        # Not enrolled: the contract says so before anything is sent, and the node refuses the transaction
        # itself (account permissioning) when it is sent anyway; nothing is mined.
        head = w3.eth.block_number
        with pytest.raises(errors.SdkError, match="not active principal"):
            client.as_account(stranger).request_unlock()
        data = client.contract.functions.request_unlock()._encode_transaction_data()
        with pytest.raises(errors.SdkError, match="not permitted to send transactions"):
            Sender(w3, stranger).send({"to": client.address, "data": data, "gas": 300_000})
        assert w3.eth.block_number == head
