#!/usr/bin/env bash
# The long API fuzzing run (CI runs 40 cases per operation): bash scripts/fuzz-long.sh [CASES_PER_OPERATION]
set -euo pipefail
cd "$(dirname "$0")/.."
FINADVISOR_FUZZ_EXAMPLES="${1:-2000}" exec .venv/bin/python -m pytest -q tests/reliability/test_fuzz_api.py
