"""Disk full while writing an index or a dataset: the old file survives and the error is clear."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from finadvisor.catalog import CatalogIndex, HashEmbedder, Service, demo_catalog_path, load_catalog


def _no_space(*_: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_index_write_fails_and_old_index_survives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    services = load_catalog(demo_catalog_path())
    index = CatalogIndex.build(services, HashEmbedder(), tmp_path / "idx")
    before = sorted(p.name for p in (tmp_path / "idx").iterdir())
    monkeypatch.setattr(os, "fsync", _no_space)
    new = Service(
        service="Dịch vụ mới", link="https://finadvisor.vn/dich-vu/moi", description="Mô tả dịch vụ mới."
    )
    with pytest.raises(OSError, match="No space left"):
        index.add([new])
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == before  # no temp files left behind
    reopened = CatalogIndex.open(tmp_path / "idx", HashEmbedder())
    assert len(reopened) == len(services) and reopened.get(new.link) is None


def test_dataset_write_fails_and_old_output_survives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from finadvisor.dataset.build import build_dataset

    source = Path(__file__).resolve().parents[2] / "finadvisor" / "data" / "faq_demo"
    out = tmp_path / "train.jsonl"
    out.write_text('{"old": true}\n')
    monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(OSError, match="No space left"):
        build_dataset([str(source)], out, write_report=False)
    monkeypatch.undo()
    assert out.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.jsonl"]


def test_cli_reports_os_errors_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from finadvisor import cli

    out = tmp_path / "train.jsonl"
    monkeypatch.setattr(os, "fsync", _no_space)
    monkeypatch.setattr(
        "sys.argv",
        [
            "finadvisor",
            "dataset",
            "build",
            str(Path(__file__).resolve().parents[2] / "finadvisor/data/faq_demo/html"),
            "--out",
            str(out),
        ],
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "No space left on device" in err[-1]
