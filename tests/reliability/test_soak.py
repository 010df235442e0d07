"""The 60-second soak on the real default model (CI version of benchmarks/soak.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]


def test_soak_60s_no_errors_and_flat_memory(tmp_path: Path, default_model: Path) -> None:
    # The server reads the packaged model where it was assembled; its caches live in tmp_path.
    env = os.environ | {
        "FINADVISOR_CACHE_DIR": str(tmp_path / "cache"),
        "FINADVISOR_MODEL": str(default_model),
    }
    out = subprocess.run(
        [
            sys.executable,
            "benchmarks/soak.py",
            "--duration",
            "60",
            "--concurrency",
            "20",
            "--warmup",
            "20",
            "--advisor-every",
            "0",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["error_count"] == 0, result["errors"]
    # Sustained load, not one round: every one of the 20 clients completed requests again and again. (The docs'
    # 113 requests in 60 s is a measurement on an idle machine, not a threshold: it depends on the CPU.)
    assert result["requests"] >= 3 * 20
    assert result["rss_growth_after_warmup_pct"] < 10
    assert result["fds_end"] - result["fds_start"] < 50
