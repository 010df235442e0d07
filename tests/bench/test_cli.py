"""The CLI end to end: table, results file, last-line JSON, plots, compare, Ctrl-C partial results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finadvisor.bench.cli import app
from finadvisor.errors import ConfigError, UpstreamError
from tests.bench.fake_openai import Behaviour, free_port

PNG = b"\x89PNG\r\n\x1a\n"


def _bench(*args: str):
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_sweep_writes_results_plots_and_json_last_line(fake_server, tmp_path):
    fake_server.script = [Behaviour(ttft=0.03, itl=0.01, tokens=4)]
    out = tmp_path / "run"
    result = _bench("--url", fake_server.url, "-c", "1,2", "-n", "4", "--warmup", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["bench"] == "chat" and last["model"] == "fake-model"
    assert [lv["concurrency"] for lv in last["levels"]] == [1, 2]
    assert all(lv["completed"] == 4 and lv["failed"] == 0 for lv in last["levels"])
    assert "avg latency (s)" in result.stdout and "TTFT avg (ms)" in result.stdout
    doc = json.loads((out / "results.json").read_text())
    assert doc["schema"] == "finadvisor.bench/1" and doc["partial"] is False
    assert Path(last["results"]) == out / "results.json"
    for name in ("latency.png", "throughput.png", "ttft.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
    assert not list(out.glob(".*tmp*"))  # atomic writes left nothing behind


def test_advisor_sweep_draws_latency_distribution(fake_server, tmp_path):
    fake_server.cache_pattern = ["hit"]
    result = _bench(
        "--url", fake_server.url, "--target", "advisor", "-c", "2", "-n", "4", "--out", str(tmp_path)
    )
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["levels"][0]["cache_hit_rate"] == 1.0
    assert "cache hit" in result.stdout
    assert (tmp_path / "latency_distribution.png").read_bytes().startswith(PNG)


def test_compare_prints_ratios(fake_server, tmp_path):
    fake_server.script = [Behaviour(ttft=0.02, itl=0.01, tokens=3)]
    _bench("--url", fake_server.url, "-c", "1", "-n", "3", "--no-plots", "--out", str(tmp_path / "a"))
    fake_server.script = [Behaviour(ttft=0.08, itl=0.01, tokens=3)]
    _bench("--url", fake_server.url, "-c", "1", "-n", "3", "--no-plots", "--out", str(tmp_path / "b"))
    result = _bench("compare", str(tmp_path / "a" / "results.json"), str(tmp_path / "b" / "results.json"))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout.strip().splitlines()[-1])["rows"]
    ttft = next(r for r in rows if r["metric"] == "TTFT avg (s)")
    assert ttft["ratio"] == pytest.approx(4.0, rel=0.35)
    assert "B/A" in result.stdout


def test_compare_rejects_foreign_files(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match="not a finadvisor bench results file"):
        _bench("compare", str(bad), str(bad))


def test_cli_errors_are_clear(tmp_path):
    with pytest.raises(UpstreamError, match="connection refused"):
        _bench("--url", f"http://127.0.0.1:{free_port()}", "--out", str(tmp_path))
    with pytest.raises(ConfigError, match="comma-separated integers"):
        _bench("--url", "http://127.0.0.1:1", "-c", "1,x")
    with pytest.raises(ConfigError, match="pass --url"):
        _bench()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_writes_partial_results(fake_server, tmp_path, sig):
    fake_server.script = [Behaviour(ttft=0.05, itl=0.01, tokens=3)]
    out = tmp_path / "partial"
    code = "import sys; from finadvisor.bench.cli import app; sys.argv[0] = 'bench'; app()"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "--url",
            fake_server.url,
            "-c",
            "1,2",
            "--duration",
            "30",
            "--no-plots",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    deadline = time.time() + 30
    while fake_server.count < 8 and time.time() < deadline:  # wait until the first level is under way
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["partial"] is True
    assert doc["levels"][0]["concurrency"] == 1 and doc["levels"][0]["partial"] is True
    assert doc["levels"][0]["completed"] >= 5
    assert json.loads(stdout.strip().splitlines()[-1])["partial"] is True
    assert "interrupted" in stderr
