"""Crash safety: SIGKILL the batch at a random point (twice), re-run it, and every user is in the output exactly
once; SIGINT stops it cleanly (exit 130) with only finished users written."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finadvisor.batch.report import EXIT_INTERRUPTED, EXIT_OK
from tests.batch.conftest import records, write_users
from tests.helpers import stop_process

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _start(src: Path, out: Path, folder: Path, ttft: float = 0.05) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.batch.fake_batch", str(src), str(out), str(folder), str(ttft)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _lines(out: Path) -> int:
    return out.read_bytes().count(b"\n") if out.exists() else 0


def _wait_for_lines(proc: subprocess.Popen[bytes], out: Path, n: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while _lines(out) < n:
        assert proc.poll() is None, f"the batch ended early: {proc.communicate()[1].decode()[-2000:]}"
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.005)


def test_killed_twice_then_resumed_every_user_exactly_once(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    users = write_users(src, 80)
    killed_at = []
    for _ in range(2):
        proc = _start(src, out, tmp_path)
        target = _lines(out) + rng.randint(1, 25)
        _wait_for_lines(proc, out, target)
        time.sleep(rng.random() * 0.05)  # anywhere: between records, in the middle of a write, ...
        stop_process(proc, 10, kill=True)
        killed_at.append(_lines(out))
    assert killed_at[-1] < len(users), f"seed {seed}: the runs finished before being killed"
    proc = _start(src, out, tmp_path)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_OK, f"seed {seed}: {stderr.decode()[-2000:]}"
    recs = records(out)
    got = [r["user"] for r in recs]
    assert sorted(got) == users, f"seed {seed}, killed at {killed_at}: duplicates or gaps"
    assert all(r["status"] == "ok" for r in recs)
    assert out.read_bytes().endswith(b"\n")
    summary = json.loads(stdout.splitlines()[-1])
    assert summary["skipped"] == killed_at[-1] and summary["users"] == len(users) - killed_at[-1]


def test_sigint_stops_cleanly_and_the_rerun_completes(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    users = write_users(src, 60)
    proc = _start(src, out, tmp_path, ttft=0.1)
    _wait_for_lines(proc, out, 5)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED
    assert b'"interrupted": true' in stdout.splitlines()[-1]
    first = records(out)
    assert 5 <= len(first) < len(users) and out.read_bytes().endswith(b"\n")
    proc = _start(src, out, tmp_path, ttft=0.0)
    proc.communicate(timeout=120)
    assert proc.returncode == EXIT_OK
    assert sorted(r["user"] for r in records(out)) == users


def test_a_concurrent_run_is_refused_and_a_kill_loses_nothing(tmp_path: Path) -> None:
    """Two runs on one --out (issue 25): the second fails at once with a clear message and writes nothing; the
    first is then killed with SIGKILL mid-run (its lock dies with it) and a third run completes the file."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    users = write_users(src, 60)
    first = _start(src, out, tmp_path, ttft=2.0)  # 60 users at 2 s each on 8 workers: busy for ~15 s
    _wait_for_lines(first, out, 3)
    second = _start(src, out, tmp_path, ttft=0.0)
    _, stderr = second.communicate(timeout=60)
    assert second.returncode == 1 and b"another finadvisor batch is writing" in stderr, stderr[-2000:]
    assert first.poll() is None  # the first run was not disturbed
    stop_process(first, 10, kill=True)
    kept = _lines(out)
    assert kept < len(users)
    third = _start(src, out, tmp_path, ttft=0.0)
    stdout, stderr = third.communicate(timeout=120)
    assert third.returncode == EXIT_OK, stderr.decode()[-2000:]
    assert (
        sorted(r["user"] for r in records(out)) == users
    )  # every user exactly once: none lost, no duplicate
    assert json.loads(stdout.splitlines()[-1])["skipped"] == kept
