#!/usr/bin/env bash
# Install the headless browser used by scripts/browser_check.py (and tests/test_book.py):
# Debian's `chromium` package plus a basic font set, with apt-get. The check drives it with
# Playwright (the `dev` extra) through `executable_path`; Playwright's own browser download
# (`playwright install`) is never used.
#
# Idempotent (does nothing when /usr/bin/chromium is already there) and quiet (prints one
# line: the browser version). Runs apt-get through sudo when not root.
#
# Debian (and Debian-based CI images) only: on Ubuntu the `chromium` apt package is a snap
# wrapper that does not run in containers; there, point LOTUS_CHROMIUM at an installed
# Chrome/Chromium binary instead.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ] || ! fc-list 2>/dev/null | grep -qi "dejavu"; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install_browser.sh: apt-get not found; install Chromium yourself and set LOTUS_CHROMIUM" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fontconfig >/dev/null
fi

"$CHROMIUM" --headless --no-sandbox --disable-gpu --version 2>/dev/null || "$CHROMIUM" --version
