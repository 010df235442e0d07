"""The 60-second soak on the real default model (CI version of benchmarks/soak.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]


def test_soak_60s_no_errors_and_flat_memory(tmp_path: Path, default_model: Path) -> None:
    out = subprocess.run([sys.executable, "benchmarks/soak.py", "--duration", "60", "--concurrency", "20",
                          "--warmup", "20", "--advisor-every", "0", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=400)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["error_count"] == 0, result["errors"]
    assert result["requests"] >= 20
    assert result["rss_growth_after_warmup_pct"] < 10
    assert result["fds_end"] - result["fds_start"] < 50
