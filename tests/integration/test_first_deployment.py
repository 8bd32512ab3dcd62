"""docs/first-deployment.md, run as written (issue 17 item 7): a new operator's path from nothing to a first
unlock on a real Samba AD DC, with only the commands that page shows.

The page's shell blocks run in order in one bash (``set -euo pipefail``), in a fresh HOME. The block marked
``doc-test: site`` (the operator's own values) is replaced by this DC's; a block marked ``doc-test: background
NAME`` (what the page runs in another terminal or as a service) is started in the background, and the script
goes on once the service answers. Nothing else is added: a missing step, a wrong flag or a stale option in the
page fails this test.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pamchain.sdk.directory import Account, AuthenticationFailed
from pamchain.sdk.directory.ldap import LdapDirectory

from support.rpc import free_port

from .ad import TEST_PASSWORD, RunningDC

PAGE = Path(__file__).resolve().parents[2] / "docs" / "first-deployment.md"
BLOCK = re.compile(r"(?:<!-- doc-test: (?P<mark>[^>]*?) -->\s*\n)?```sh\n(?P<body>.*?)```", re.S)

RPC_UP = (
    "import json, sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], "
    "json.dumps({'jsonrpc': '2.0', 'id': 1, 'method': 'eth_blockNumber'}).encode(), "
    "{'content-type': 'application/json'}), timeout=2)"
)
# How the script knows a background service is up (the page tells a person to wait for the same).
READY = {
    "node": 'until python3 -c "$__RPC_UP" "$PAMCHAIN_RPC_URL" 2>/dev/null; do __alive node; sleep 0.2; done',
    "oracle": 'until pamchain oracle status --url "http://127.0.0.1:$HEALTH_PORT" >/dev/null 2>&1; '
    "do __alive oracle; sleep 0.2; done",
}


def page_blocks() -> list[tuple[str, str]]:
    """(mark, body) of every ``sh`` block of the page, in order."""
    return [(m["mark"] or "", m["body"]) for m in BLOCK.finditer(PAGE.read_text())]


def test_page__has_the_blocks_this_test_relies_on() -> None:
    marks = [mark for mark, _ in page_blocks()]
    assert marks[0] == "site"
    assert "background node" in marks and "background oracle" in marks
    assert all(mark in ("", "site") or mark.split()[1] in READY for mark in marks)


def script(site_values: dict[str, str], logs: Path) -> str:
    lines = [
        "set -euo pipefail -m",  # -m: each background service in its own process group, stopped as one
        '__alive() { kill -0 "$(cat "$__LOGS/$1.pid")" 2>/dev/null || '
        '{ echo "$1 exited:" >&2; tail -30 "$__LOGS/$1.log" >&2; exit 1; }; }',
        f"export __LOGS={shlex.quote(str(logs))}",
        f"export __RPC_UP={shlex.quote(RPC_UP)}",
    ]
    for mark, body in page_blocks():
        if mark == "site":
            lines += [f"export {k}={shlex.quote(v)}" for k, v in site_values.items()]
        elif mark.startswith("background "):
            name = mark.split()[1]
            lines += [
                f'( {body.strip()} ) > "$__LOGS/{name}.log" 2>&1 &',
                f'echo $! > "$__LOGS/{name}.pid"',
                READY[name],
            ]
        else:
            lines.append(body)
    return "\n".join(lines) + "\n"


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Path]:
    """Where the background services log; every one still running at the end is stopped (by its pid)."""
    folder = tmp_path / "logs"
    folder.mkdir()
    yield folder
    for pid_file in folder.glob("*.pid"):
        pid = int(pid_file.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)  # the subshell and the service it runs
        except ProcessLookupError:
            continue


def test_first_deployment__as_the_page_says__ends_in_an_unlock(
    samba: RunningDC, ldap_directory: LdapDirectory, ad_user: Account, logs: Path, tmp_path: Path
) -> None:
    dc, config = samba.dc, samba.config
    assert config is not None and config.password_file is not None
    for _ in range(3):  # lock the first user out, as a person at the logon screen would
        with pytest.raises(AuthenticationFailed):
            ldap_directory.authenticate(ad_user.ref, "Wrong-Password-123!")
    assert ldap_directory.is_locked(ad_user.ref)

    home = tmp_path / "home"
    home.mkdir()
    site_values = {
        "SITE": str(tmp_path / "site"),
        "DOMAIN": "corp.example",
        "DC_URL": dc.ldaps_url,
        "DC_NAME": dc.fqdn,
        "DC_BASE_DN": dc.base_dn,
        "DC_BIND_DN": dc.admin_dn,
        "DC_BIND_PASSWORD_FILE": str(config.password_file),
        "DC_CA_FILE": str(dc.ca_file),
        "FIRST_USER": ad_user.sam_account_name,
        "RPC_PORT": str(free_port()),
        "P2P_PORT": str(free_port()),
        "HEALTH_PORT": str(free_port()),
    }
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # `pamchain` as `make install` left it
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }
    walkthrough = tmp_path / "walkthrough.sh"
    walkthrough.write_text(script(site_values, logs))
    out, err = logs / "walkthrough.out", logs / "walkthrough.err"  # -x: the failing step is the last traced
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(["bash", "-x", str(walkthrough)], env=env, stdout=stdout, stderr=stderr)
        try:
            code = proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    service_logs = "".join(f"\n--- {p.name}:\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))
    assert code == 0, f"stdout:\n{out.read_text()[-3000:]}\nstderr:\n{err.read_text()[-4000:]}{service_logs}"
    stdout_text = out.read_text()

    assert not ldap_directory.is_locked(ad_user.ref)
    ldap_directory.authenticate(ad_user.ref, TEST_PASSWORD)
    assert re.search(r"unlock", stdout_text, re.I), stdout_text[-2000:]
