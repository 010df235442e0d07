#!/usr/bin/env bash
# The long API fuzzing run (CI runs 40 cases per operation): bash scripts/fuzz-long.sh [CASES_PER_OPERATION]
# Run it under the shared lock on the shared dev machine: flock /tmp/finadvisor-heavy.lock bash scripts/fuzz-long.sh
# --hypothesis-show-statistics prints how many cases each operation really ran (the figure to report).
set -euo pipefail
cd "$(dirname "$0")/.."
FINADVISOR_FUZZ_EXAMPLES="${1:-2000}" exec .venv/bin/python -m pytest -q -p no:randomly \
  --hypothesis-show-statistics tests/reliability/test_fuzz_api.py
