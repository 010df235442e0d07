#!/usr/bin/env bash
# Install everything, then run the whole test suite (offline, CPU). This is the README's test command;
# .ci/run calls it. Extra pytest arguments pass through: bash scripts/test.sh -k advisor
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p test-artifacts
exec .venv/bin/python -m pytest -q --junitxml=test-artifacts/junit.xml "$@"
