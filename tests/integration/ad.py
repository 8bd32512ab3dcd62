"""The real AD the integration tests act on: the session's running Samba DC, and the users and groups a
test creates (deleted when it ends). The fixtures that hand them out are in conftest.py."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass

from pamchain.devnet import samba_dc
from pamchain.sdk.directory import Account, Group
from pamchain.sdk.directory.ldap import LdapConfig, LdapDirectory

TEST_PASSWORD = "Integration-Test-Pw-42!"


@dataclass
class RunningDC:
    """The session's DC and its current pid; tests may stop and restart it (`restart` keeps the pid right)."""

    dc: samba_dc.SambaDC
    pid: int
    start_seconds: float = 0.0
    provision_seconds: float = 0.0
    config: LdapConfig | None = None

    def stop(self) -> None:
        samba_dc.stop(self.dc)

    def start(self) -> None:
        self.pid = samba_dc.start(self.dc, maximum_runtime=3600)


class AdObjects:
    """Creates uniquely named users and groups and deletes them when the test ends."""

    def __init__(self, directory: LdapDirectory) -> None:
        self.directory = directory
        self.created: list[str] = []

    def user(
        self, password: str = TEST_PASSWORD, *, name: str | None = None, enabled: bool = True
    ) -> Account:
        # sAMAccountName is at most 20 characters.
        account = self.directory.create_user(name or f"t{secrets.token_hex(6)}", password, enabled=enabled)
        self.created.append(account.dn)
        return account

    def group(self, name: str | None = None) -> Group:
        group = self.directory.create_group(name or f"g{secrets.token_hex(6)}")
        self.created.append(group.dn)
        return group

    def cleanup(self) -> None:
        for dn in reversed(self.created):
            # Best effort: a test may have stopped the DC or deleted the object itself.
            with contextlib.suppress(Exception):
                self.directory.delete(dn)
