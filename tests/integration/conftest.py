"""Fixtures for tests against real external parts: one Samba AD DC per session (per xdist worker), fresh AD
objects per test.

The DC is a real Samba AD domain controller on a free loopback address (127.0.0.2 first), reached over LDAPS
with certificate verification on. Samba missing is a failure, not a skip, unless PAMCHAIN_SKIP_SAMBA=1.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator

import pytest
from pamchain.devnet import samba_dc
from pamchain.sdk.directory import Account, Group
from pamchain.sdk.directory.ldap import LdapConfig, LdapDirectory

from .ad import TEST_PASSWORD, AdObjects, RunningDC


@pytest.fixture(scope="session")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDC]:
    """One Samba AD DC for the whole session, torn down by pid."""
    if os.environ.get("PAMCHAIN_SKIP_SAMBA") == "1":
        pytest.skip("PAMCHAIN_SKIP_SAMBA=1: Samba AD DC tests skipped on request")
    if not samba_dc.samba_available():
        pytest.fail(
            "Samba AD DC is not installed: run `bash .ci/install-samba.sh` (or set PAMCHAIN_SKIP_SAMBA=1 to "
            "skip the directory integration tests explicitly)",
            pytrace=False,
        )
    root = tmp_path_factory.mktemp("samba")
    t0 = time.monotonic()
    # Each xdist worker is a session with its own DC: the address is claimed, so two workers never share one.
    ip = samba_dc.free_loopback_ip()
    try:
        dc = samba_dc.provision(root / "dc", ip=ip)
        t1 = time.monotonic()
        # A short maximum runtime: a DC left behind by a killed test run exits by itself.
        pid = samba_dc.start(dc, maximum_runtime=3600)
    except BaseException:
        samba_dc.release_loopback_ip(ip)
        raise
    running = RunningDC(dc, pid, start_seconds=time.monotonic() - t1, provision_seconds=t1 - t0)
    running.config = samba_dc.admin_ldap_config(dc, root / "bind-password")
    try:
        yield running
    finally:
        samba_dc.stop(dc)
        samba_dc.release_loopback_ip(ip)


@pytest.fixture(scope="session")
def ldap_config(samba: RunningDC) -> LdapConfig:
    """Admin bind over LDAPS, verified against Samba's own CA and the DC's name (no IP SAN in its cert)."""
    assert samba.config is not None
    return dataclasses.replace(samba.config, connect_timeout=3.0, receive_timeout=5)


@pytest.fixture(scope="session")
def ldap_directory(ldap_config: LdapConfig) -> Iterator[LdapDirectory]:
    """One shared directory (one reused connection) for the session."""
    directory = LdapDirectory(ldap_config)
    yield directory
    directory.close()


@pytest.fixture
def ad(ldap_directory: LdapDirectory) -> Iterator[AdObjects]:
    """Factory for fresh AD users and groups, removed after the test."""
    objects = AdObjects(ldap_directory)
    yield objects
    objects.cleanup()


@pytest.fixture
def ad_password() -> str:
    """The password `ad_user` and `ad.user()` set by default."""
    return TEST_PASSWORD


@pytest.fixture
def ad_user(ad: AdObjects) -> Account:
    """A fresh enabled user whose password is TEST_PASSWORD."""
    return ad.user()


@pytest.fixture
def ad_group(ad: AdObjects) -> Group:
    """A fresh, empty global security group."""
    return ad.group()


# The oracle world's fixtures (chain backends x fresh AD objects), shared by the oracle test modules.
from .oracle_world import suite, world  # noqa: E402, F401
