#!/bin/sh
# Install a Samba AD DC for the integration tests (tests/integration, devnet/samba_dc.py).
# Idempotent: does nothing when every package is already installed. Needs root and the Debian mirror.
set -eu

PACKAGES="samba samba-ad-dc samba-ad-provision winbind"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ]; then
    echo "install-samba: already installed ($PACKAGES)"
    exit 0
fi

echo "install-samba: installing$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# samba-ad-provision is only a Recommends of samba-ad-dc, but provisioning needs /usr/share/samba/setup.
$SUDO apt-get update -qq || true
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES
# Debian enables and starts the system samba services on install; the tests run their own DC on a loopback
# address and must not fight a system one for ports.
for svc in samba-ad-dc smbd nmbd winbind; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
command -v samba >/dev/null && command -v samba-tool >/dev/null
echo "install-samba: done"
