#!/usr/bin/env bash
# Install everything, then run the whole test suite (offline, CPU). This is the README's test command;
# .ci/run calls it. Extra pytest arguments pass through (and skip ruff + mypy): bash scripts/test.sh -k advisor
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p test-artifacts
if [ "$#" -eq 0 ]; then  # the full run also lints and type-checks (about a minute); a filtered run skips them
  echo "== ruff" && .venv/bin/ruff check finadvisor tests benchmarks
  echo "== ruff format" && .venv/bin/ruff format --check finadvisor tests benchmarks  # one formatter (issue 26)
  echo "== mypy" && .venv/bin/mypy
fi
echo "== pytest"
exec .venv/bin/python -m pytest -q --junitxml=test-artifacts/junit.xml "$@"
