#!/usr/bin/env bash
# What the browser test needs beside Python: Debian's chromium, and local copies of the CDN
# assets the book loads (npm). Playwright drives this chromium; it never downloads a browser.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --silent)
