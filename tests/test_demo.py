"""The README's main command: the embedded demo plays every story and shows AD following the chain."""

from __future__ import annotations

from click.testing import CliRunner
from pamchain.scripts.cli import main


def test_demo__plays_unlock_elevation_expiry_reset_and_drift() -> None:
    result = CliRunner().invoke(main, ["demo", "--grant-seconds", "30"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "locked in AD: True" in out and "locked in AD: False" in out
    assert "alice in Domain Admins: True" in out
    assert "alice in Domain Admins: False; grant active on chain: False" in out
    assert out.count("ReceiptPosted(") == 4  # unlock, add, remove, password
    assert "action=REMOVE_MEMBER, outcome=APPLIED" in out
    assert "GrantEnded(" in out and "reason=EXPIRED" in out
    assert "alice binds with her new password: yes" in out
    assert "DriftReported(" in out and "kind=DRIFT" in out
    assert "Quiet-Orange-Lantern" not in out  # the new password is never printed


def test_cli__unknown_command__clean_error() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code == 2 and "No such command" in result.output
