"""The output file's invariants: whole lines only, each user at most once, rewrites are atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finadvisor.batch.output import ResultLog, read_records, scan
from finadvisor.errors import ConfigError

T = "2026-12-03T08:00:00"


def _line(user: str, status: str = "ok", for_time: str = T) -> bytes:
    return (json.dumps({"user": user, "status": status, "for_time": for_time}) + "\n").encode()


def test_open_keeps_whole_ok_lines_and_drops_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(
        _line("a") + b"garbage\n" + _line("b", "error") + _line("a") + _line("c") + b'{"user": "d", "st'
    )
    with ResultLog(out, for_time=T) as log:
        assert log.open() == {"a", "c"}
        assert log.resume.torn and log.resume.retried == 1 and log.resume.dropped_junk == 2
        log.append({"user": "b", "status": "ok", "for_time": T})
    assert [r["user"] for r in read_records(out)] == ["a", "c", "b"]
    assert out.read_bytes().endswith(b"\n")
    assert not list(tmp_path.glob(".out.jsonl.*"))  # the atomic rewrite left no temporary file


def test_a_clean_file_is_not_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(_line("a"))
    inode = out.stat().st_ino
    with ResultLog(out, for_time=T) as log:
        assert log.open() == {"a"}
    assert out.stat().st_ino == inode  # appended to in place, not replaced


def test_force_starts_empty_and_ignores_another_morning(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(_line("a", for_time="2026-12-02T08:00:00"))
    with ResultLog(out, for_time=T, force=True) as log:
        assert log.open() == set()
    assert out.read_bytes() == b""
    assert scan(out).done == set()


def test_out_must_be_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        ResultLog(tmp_path, for_time=T).open()
