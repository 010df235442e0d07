"""atomic_write: the target is replaced whole or not at all, with a sane mode, and no temp file is left."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from finadvisor.fsutil import atomic_open, atomic_temp_path, atomic_write


def test_writes_text_and_bytes_with_a_readable_mode(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a" / "x.txt", "xin chào")
    atomic_write(tmp_path / "y.bin", b"\x00\x01")
    assert (tmp_path / "a" / "x.txt").read_text(encoding="utf-8") == "xin chào"
    assert (tmp_path / "y.bin").read_bytes() == b"\x00\x01"
    assert stat.S_IMODE((tmp_path / "y.bin").stat().st_mode) == 0o644
    atomic_write(tmp_path / "secret", "k", file_mode=0o600)
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600


def test_a_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "data.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["data.jsonl"]


def test_temp_path_for_libraries_that_write_by_name(tmp_path: Path) -> None:
    target = tmp_path / "v.faiss"
    with atomic_temp_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"vec")
        assert not target.exists()
    assert target.read_bytes() == b"vec"
    with pytest.raises(ValueError), atomic_temp_path(target) as tmp:
        tmp.write_bytes(b"broken")
        raise ValueError
    assert target.read_bytes() == b"vec" and len(list(tmp_path.iterdir())) == 1
