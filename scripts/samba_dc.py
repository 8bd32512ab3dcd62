"""``python -m pamchain.scripts.samba_dc up|down|status --dir D``: a throwaway Samba AD DC on a loopback address.

Command wiring only; the DC itself is :mod:`pamchain.devnet.samba_dc` (shared by the devnet and the tests).

    python -m pamchain.scripts.samba_dc up --dir /tmp/dc1 [--ip 127.0.0.2]
    python -m pamchain.scripts.samba_dc down --dir /tmp/dc1
"""

from __future__ import annotations

import argparse
import sys

from pamchain.devnet.samba_dc import (
    DEFAULT_DOMAIN,
    DEFAULT_IP,
    DEFAULT_REALM,
    STATE_FILE,
    SambaError,
    load,
    stop,
    up,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pamchain.scripts.samba_dc", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", required=True, help="DC directory (provisioned on first `up`)")
    parser.add_argument("--ip", default=DEFAULT_IP, help="loopback address to bind (127.0.0.N)")
    parser.add_argument("--realm", default=DEFAULT_REALM)
    parser.add_argument("--domain", default=DEFAULT_DOMAIN)
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            if not args.ip.startswith("127."):
                parser.error("--ip must be a loopback address (127.0.0.N)")
            dc, pid = up(args.dir, ip=args.ip, realm=args.realm, domain=args.domain)
            print(f"DC up: pid {pid}, {dc.ldaps_url}, CA {dc.ca_file}, name {dc.fqdn}, base {dc.base_dn}")
            print(f"admin: {dc.admin_dn} (password in {dc.target_dir / STATE_FILE})")
        elif args.command == "down":
            stop(load(args.dir))
            print("DC down")
        else:
            running = load(args.dir).pid()
            print(f"running, pid {running}" if running else "stopped")
            return 0 if running else 3
    except SambaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
