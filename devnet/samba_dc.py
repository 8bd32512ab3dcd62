"""A real Samba AD domain controller on a loopback address, for tests and the devnet.

Everything stays on loopback: the DC binds only its 127.0.0.N address, has no DNS forwarder and no dynamic DNS
updates, and reads no system configuration (see /work/shared/notes/samba-ad-dc.md for the why of each option).
A provisioned, stopped DC is cached as a template keyed by its parameters, so later provisions are a directory
copy instead of a 5 s `samba-tool domain provision`. From a shell: ``python -m pamchain.scripts.samba_dc``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pamchain.sdk.directory.ldap import LdapConfig

from . import claims
from .processes import alive, stop_process

DEFAULT_IP = "127.0.0.2"
DEFAULT_REALM = "PAMCHAIN.TEST"
DEFAULT_DOMAIN = "PAMCHAIN"
DEFAULT_HOST_NAME = "dc1"
# A devnet/test secret only: it must satisfy AD's default complexity rules.
DEFAULT_ADMIN_PASSWORD = "Devnet-Admin-Pass-2024!"
DEFAULT_MAX_RUNTIME = 7200
STATE_FILE = "pamchain-dc.json"
_TEMPLATE_FORMAT = 1  # bump when provisioning options change, to invalidate cached templates


class SambaError(RuntimeError):
    """Samba is missing, failed to provision, or did not come up."""


@dataclass(frozen=True)
class SambaDC:
    """A provisioned DC in `target_dir`; everything a client needs to reach it over LDAPS."""

    target_dir: Path
    ip: str
    realm: str
    domain: str
    host_name: str
    admin_password: str = field(repr=False)

    @property
    def smb_conf(self) -> Path:
        return self.target_dir / "etc" / "smb.conf"

    @property
    def pid_file(self) -> Path:
        return self.target_dir / "run" / "samba.pid"

    @property
    def ca_file(self) -> Path:
        """Samba's self-generated CA (exists after the first start)."""
        return self.target_dir / "private" / "tls" / "ca.pem"

    @property
    def fqdn(self) -> str:
        """The name in the DC's certificate (its CN; the certificate has no IP SAN)."""
        return f"{self.host_name}.{self.realm}".lower()

    @property
    def base_dn(self) -> str:
        return ",".join(f"DC={part}" for part in self.realm.lower().split("."))

    @property
    def admin_dn(self) -> str:
        return f"CN=Administrator,CN=Users,{self.base_dn}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.ip}:636"

    @property
    def log_file(self) -> Path:
        return self.target_dir / "log" / "samba.out"

    def pid(self) -> int | None:
        """The running master process, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None


def samba_available() -> bool:
    return (
        all(shutil.which(tool) for tool in ("samba", "samba-tool"))
        and Path("/usr/share/samba/setup").is_dir()
    )


def _require_samba() -> None:
    if not samba_available():
        raise SambaError(
            "Samba AD DC is not installed (need `samba`, `samba-tool` and /usr/share/samba/setup): "
            "run .ci/install-samba.sh"
        )


def _samba_version() -> str:
    out = subprocess.run(["samba", "-V"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        # samba-tool output never carries the admin password (it is only an argument), but be safe anyway.
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise SambaError(f"{what} failed (exit {proc.returncode}): {tail}")


def _provision_fresh(dc: SambaDC) -> None:
    """Run `samba-tool domain provision` into dc.target_dir, loopback-only, then set test password rules."""
    t = dc.target_dir
    for sub in ("etc", "run", "log", "private", "state", "cache", "lock"):
        (t / sub).mkdir(parents=True, exist_ok=True)
    empty = t / "etc" / "empty.conf"
    empty.write_text("")  # without -s, /etc/samba/smb.conf would be merged in
    options = {
        "interfaces": f"{dc.ip}/8",
        "bind interfaces only": "yes",
        "dns forwarder": "",  # otherwise the machine's resolver is copied in and DNS leaks off the machine
        "server services": "-dnsupdate",
        "pid directory": t / "run",
        "ncalrpc dir": t / "run" / "ncalrpc",
        "winbindd socket directory": t / "run" / "winbindd",
        "ntp signd socket directory": t / "run" / "ntp_signd",
        "log file": t / "log" / "samba.log",
        "lock directory": t / "lock",
        "state directory": t / "state",
        "cache directory": t / "cache",
        "private dir": t / "private",
    }
    cmd = [
        "samba-tool", "domain", "provision", "-s", str(empty), f"--targetdir={t}",
        f"--realm={dc.realm}", f"--domain={dc.domain}", "--server-role=dc",
        "--dns-backend=SAMBA_INTERNAL", "--use-rfc2307", f"--adminpass={dc.admin_password}",
        f"--host-name={dc.host_name}", f"--host-ip={dc.ip}",
    ]  # fmt: skip
    cmd += [f"--option={key}={value}" for key, value in options.items()]
    _run(cmd, "samba-tool domain provision")
    # `--option` silently drops this one; without it an old password keeps working for 60 min after a reset.
    conf = dc.smb_conf.read_text()
    conf = conf.replace("[global]\n", "[global]\n\told password allowed period = 0\n", 1)
    dc.smb_conf.write_text(conf)
    _run(
        [
            "samba-tool",
            "domain",
            "passwordsettings",
            "set",
            "-s",
            str(dc.smb_conf),
            "--account-lockout-threshold=3",
            "--account-lockout-duration=30",
            "--reset-account-lockout-after=30",
            "--min-pwd-age=0",
            "--max-pwd-age=0",
        ],
        "samba-tool domain passwordsettings set",
    )


def _cache_root() -> Path:
    env = os.environ.get("PAMCHAIN_SAMBA_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pamchain" / "samba-templates"


def _template_key(dc: SambaDC) -> str:
    params = {k: v for k, v in asdict(dc).items() if k != "target_dir"}
    params |= {"samba": _samba_version(), "format": _TEMPLATE_FORMAT}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:20]


def _ignore_special(directory: str, names: list[str]) -> set[str]:
    """Skip sockets and fifos left by a stopped DC: they cannot be copied and are recreated at start."""
    skipped = set()
    for name in names:
        mode = os.lstat(os.path.join(directory, name)).st_mode
        if stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode):
            skipped.add(name)
    return skipped


def _copy_dc(src: Path, src_conf_path: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True, ignore=_ignore_special, dirs_exist_ok=True)
    for stale in ("samba.pid",):
        (dst / "run" / stale).unlink(missing_ok=True)
    # Only etc/smb.conf holds absolute paths.
    conf = dst / "etc" / "smb.conf"
    conf.write_text(conf.read_text().replace(str(src_conf_path), str(dst)))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def provision(
    target_dir: str | os.PathLike[str],
    ip: str = DEFAULT_IP,
    realm: str = DEFAULT_REALM,
    domain: str = DEFAULT_DOMAIN,
    admin_password: str = DEFAULT_ADMIN_PASSWORD,
    host_name: str = DEFAULT_HOST_NAME,
    use_cache: bool = True,
) -> SambaDC:
    """Provision a DC into `target_dir` (must be empty or absent); copy a cached template when one exists.

    The template is a DC provisioned with the same parameters, started once (so its TLS key and certificate
    exist) and stopped: a copy then starts in under a second.
    """
    _require_samba()
    target = Path(target_dir).resolve()
    if target.exists() and any(target.iterdir()):
        raise SambaError(f"{target} is not empty")
    dc = SambaDC(target, ip, realm.upper(), domain.upper(), host_name.lower(), admin_password)
    if not use_cache:
        _provision_fresh(dc)
        _write_state(dc)
        return dc
    template_dir = _cache_root() / _template_key(dc)
    with _locked(template_dir.with_suffix(".lock")):
        if not (template_dir / STATE_FILE).exists():
            _build_template(dc, template_dir)
    _copy_dc(template_dir, template_dir, target)
    _write_state(dc)
    return dc


def _build_template(dc: SambaDC, template_dir: Path) -> None:
    shutil.rmtree(template_dir, ignore_errors=True)
    building = Path(tempfile.mkdtemp(prefix="building-", dir=template_dir.parent))
    try:
        tdc = SambaDC(building, dc.ip, dc.realm, dc.domain, dc.host_name, dc.admin_password)
        _provision_fresh(tdc)
        start(tdc)  # first start generates the TLS key and the CA: pay that once, in the template
        stop(tdc)
        _write_state(tdc)
        # Rename keeps a half-built template from ever being used; fix the paths for the final location.
        conf = tdc.smb_conf
        conf.write_text(conf.read_text().replace(str(building), str(template_dir)))
        building.rename(template_dir)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _write_state(dc: SambaDC) -> None:
    state = {k: str(v) for k, v in asdict(dc).items()}
    path = dc.target_dir / STATE_FILE
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)  # holds the (test) admin password


def load(target_dir: str | os.PathLike[str]) -> SambaDC:
    """The DC provisioned earlier in `target_dir`."""
    target = Path(target_dir).resolve()
    try:
        state = json.loads((target / STATE_FILE).read_text())
    except FileNotFoundError:
        raise SambaError(f"no provisioned DC in {target}") from None
    return SambaDC(
        target, state["ip"], state["realm"], state["domain"], state["host_name"], state["admin_password"]
    )


def wait_for_ldaps(ip: str, port: int = 636, timeout: float = 30.0, pid: int | None = None) -> float:
    """Block until a TLS handshake on ip:port succeeds; return the seconds waited.

    Readiness only: this probe does not verify the certificate (clients do, see ldap_directory).
    """
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t0 = time.monotonic()
    while True:
        try:
            with socket.create_connection((ip, port), timeout=1.0) as sock, ctx.wrap_socket(sock):
                return time.monotonic() - t0
        except OSError:
            pass
        if pid is not None and not alive(pid):
            raise SambaError(f"samba (pid {pid}) exited before LDAPS on {ip}:{port} answered")
        if time.monotonic() - t0 > timeout:
            raise SambaError(f"LDAPS on {ip}:{port} did not answer within {timeout:.0f} s")
        time.sleep(0.05)


def start(dc: SambaDC, maximum_runtime: int = DEFAULT_MAX_RUNTIME, timeout: float = 60.0) -> int:
    """Start the DC in the background (its own session) and wait until LDAPS answers; return its pid.

    `--maximum-runtime` makes a forgotten DC exit by itself.
    """
    _require_samba()
    running = dc.pid()
    if running is not None:
        raise SambaError(f"DC in {dc.target_dir} already runs (pid {running})")
    dc.log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(dc.log_file, "ab") as log:
        proc = subprocess.Popen(
            ["samba", "-F", "-s", str(dc.smb_conf), f"--maximum-runtime={maximum_runtime}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_ldaps(dc.ip, timeout=timeout, pid=proc.pid)
    except BaseException:
        stop_process(proc, group=True)
        raise SambaError(f"DC did not start; log tail:\n{_tail(dc.log_file)}") from None
    return proc.pid


def stop(dc: SambaDC, timeout: float = 15.0) -> None:
    """SIGTERM the DC's process group (the master forwards it to its children) and wait for it to exit."""
    pid = dc.pid()
    if pid is not None:
        # Started in its own session: its pid is its process group, and the master's children are in it.
        stop_process(pid, group=True, grace=timeout)
    dc.pid_file.unlink(missing_ok=True)


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


def up(
    target_dir: str | os.PathLike[str],
    ip: str = DEFAULT_IP,
    realm: str = DEFAULT_REALM,
    domain: str = DEFAULT_DOMAIN,
) -> tuple[SambaDC, int]:
    """Provision (if needed) and start; idempotent."""
    target = Path(target_dir)
    dc = (
        load(target)
        if (target / STATE_FILE).exists()
        else provision(target, ip=ip, realm=realm, domain=domain)
    )
    pid = dc.pid()
    if pid is None:
        pid = start(dc)
    return dc, pid


# Ports a DC binds on its address (LDAP, LDAPS, GC, Kerberos, SMB, DNS, RPC): all must be free.
DC_PORTS = (53, 88, 135, 389, 445, 464, 636, 3268, 3269)


def free_loopback_ip(first: int = 2, last: int = 39) -> str:
    """The first loopback address on which every DC port is free, claimed for this process
    (``PAMCHAIN_SAMBA_IP`` forces one).

    Ports stay free until the DC binds them, seconds later: a claim (``claims.LOOPBACK``, by the address's last
    octet, held until `release_loopback_ip` or the process's exit) keeps parallel test workers, a benchmark and
    a devnet starting at the same moment from choosing the same address.
    """
    forced = os.environ.get("PAMCHAIN_SAMBA_IP")
    if forced:
        return forced
    for octet in range(first, last + 1):
        ip = f"127.0.0.{octet}"
        if claims.LOOPBACK.claim(octet):
            if all(claims.port_free(ip, port) for port in DC_PORTS):
                return ip
            claims.LOOPBACK.release(octet)
    raise SambaError(f"no free loopback address 127.0.0.{first}-{last} for a Samba DC")


def release_loopback_ip(ip: str) -> None:
    """Give up this process's claim on `ip` (after its DC stopped); a no-op for an address never claimed."""
    if ip.startswith("127.0.0."):
        claims.LOOPBACK.release(int(ip.rsplit(".", 1)[1]))


def admin_ldap_config(dc: SambaDC, password_file: Path) -> LdapConfig:
    """An LDAPS configuration binding as the DC's administrator, verified against the DC's own CA and name.

    Writes the bind password to ``password_file`` (mode 0600): configurations never hold a secret inline.
    """
    password_file.write_text(dc.admin_password)
    password_file.chmod(0o600)
    return LdapConfig(
        url=dc.ldaps_url,
        bind_dn=dc.admin_dn,
        base_dn=dc.base_dn,
        password_file=password_file,
        ca_file=dc.ca_file,
        valid_names=(dc.fqdn,),  # Samba's certificate names the host, not its IP
    )
