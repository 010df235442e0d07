from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from finadvisor.bench.cli import app
from finadvisor.bench.engines import compare_engines, settings_factory
from finadvisor.engines.fake import FakeEngine

PROMPTS = [[{"role": "user", "content": "một hai ba bốn năm sáu bảy tám"}]] * 3


def _factory(name: str):
    if name == "transformers":
        return FakeEngine(ttft_s=0.08, itl_s=0.02)
    if name == "fast":
        return FakeEngine(ttft_s=0.02, itl_s=0.005)
    if name == "broken_start":

        class Broken(FakeEngine):
            async def start(self):
                raise RuntimeError("model file not found")

        return Broken()
    raise ModuleNotFoundError("No module named 'vllm'")


async def test_speedup_over_transformers_and_skips():
    rows = await compare_engines(
        ["transformers", "fast", "vllm", "broken_start"], PROMPTS, max_tokens=64, factory=_factory
    )
    by = {r["engine"]: r for r in rows}
    assert by["vllm"]["status"] == "skipped" and "No module named 'vllm'" in by["vllm"]["note"]
    assert by["broken_start"]["status"] == "failed" and "model file not found" in by["broken_start"]["note"]
    base, fast = by["transformers"], by["fast"]
    assert base["speedup"] == pytest.approx(1.0)
    # "Bạn đã nói: <8 words>" = 11 tokens; 0.08 + 10*0.02 = 0.28 s vs 0.02 + 10*0.005 = 0.07 s
    assert base["output_tokens"] == fast["output_tokens"] == 33
    assert fast["speedup"] == pytest.approx(4.0, rel=0.3)
    # against the script: never faster than it (lower bounds), within 2x of it (ratios), no tight absolutes
    assert 0.08 - 0.01 <= base["ttft"]["mean"] < 2 * 0.08
    assert fast["ttft_speedup"] == pytest.approx(4.0, rel=0.5)
    assert 50 / 2 < base["decode_tokens_per_s"] <= 50 * 1.1


async def test_concurrency_overlaps_requests():
    rows = await compare_engines(["transformers"], PROMPTS, max_tokens=64, concurrency=3, factory=_factory)
    # three 0.28 s requests overlap: the wall time is well under their sum (a ratio, not a threshold in seconds)
    assert rows[0]["wall_s"] < 0.7 * 3 * 0.28


async def test_registry_fake_engine_runs_through_settings():
    rows = await compare_engines(["fake"], PROMPTS[:1], max_tokens=4, factory=settings_factory())
    assert rows[0]["status"] == "ok" and rows[0]["output_tokens"] == 4
    assert rows[0]["speedup"] is None  # no transformers row to compare with


def test_engines_cli_table_and_json(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "engines",
            "--engines",
            "fake,nosuch",
            "--max-tokens",
            "5",
            "--n-prompts",
            "2",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    statuses = {e["engine"]: e["status"] for e in last["engines"]}
    assert statuses == {"fake": "ok", "nosuch": "skipped"}
    assert (tmp_path / "engines.json").exists()
    assert "Engine comparison" in result.stdout
