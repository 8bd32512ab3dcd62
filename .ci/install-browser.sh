#!/usr/bin/env bash
# Debian's Chromium for the phone app's browser tests (tests/web): installed once, idempotent.
# Playwright's own browser download is not used: the tests launch /usr/bin/chromium.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
chromium --version
