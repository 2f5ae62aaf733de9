#!/usr/bin/env bash
# Create .venv and install lotus with the book and dev extras (idempotent).
#   bash scripts/setup.sh            # CPU or CUDA machine, any OS with Python >= 3.10
# Environment:
#   PYTHON=python3.11                # interpreter to build the venv from (default: python3)
#   TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"   # the PyTorch build to install first
#   LOTUS_SKIP_BROWSER=1             # do not install Chromium (only needed for the browser check)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
start=$(date +%s)

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
"$VPY" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
if ! "$VPY" -c "import torch, torchvision" 2>/dev/null; then
  echo "[setup] installing PyTorch ($TORCH_SPEC)"
  # shellcheck disable=SC2086
  "$VPY" -m pip install -q $TORCH_SPEC 2>&1 | grep -v "^WARNING: Location" || true
fi
echo "[setup] installing lotus with the book and dev extras"
"$VPY" -m pip install -q -e ".[book,dev]" 2>&1 | grep -v "^WARNING: Location" || true
"$VPY" -c "import lotus, torch; print(f'[setup] lotus {lotus.__version__}, torch {torch.__version__}')"

# headless Chromium for the book's browser check (Debian/Ubuntu, as root); optional elsewhere.
# Playwright (dev extra) drives this system browser; `playwright install` is never run.
if [ -z "${LOTUS_SKIP_BROWSER:-}" ] && [ ! -x "${LOTUS_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ -x scripts/install_browser.sh ] || [ -f scripts/install_browser.sh ]; then
    bash scripts/install_browser.sh || echo "[setup] could not install Chromium: the browser check will be skipped outside CI"
  fi
fi
echo "[setup] done in $(( $(date +%s) - start )) s"
