"""A restart with a configured catalog file keeps services added with `catalog add` (issue 14 item 6).

The file is the source of truth for the services it lists; a service someone added by hand survives a restart
sync until it is removed with `catalog remove`, or until the file claims its link. `catalog sync` matches the
file exactly unless told `--keep-added`, and says on stderr what it dropped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finadvisor.catalog import CatalogIndex, HashEmbedder, Service, demo_catalog_path
from finadvisor.catalog.cli import app

HAND = Service(
    service="Vé ca nhạc", link="https://finadvisor.vn/dich-vu/ve-ca-nhac", description="Đặt vé ca nhạc"
)


def _catalog(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    return path


def test_restart_sync_keeps_services_added_by_hand(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    entries = json.loads(demo_catalog_path().read_text(encoding="utf-8"))
    path = _catalog(tmp_path, entries)
    first = CatalogIndex.open_or_build(tmp_path / "idx", HashEmbedder(), path)
    assert first.added_ids == frozenset()
    first.add([HAND])
    assert first.added_ids == {HAND.id}

    _catalog(tmp_path, entries[1:])  # the operator edits the file: one service gone
    with caplog.at_level(logging.INFO, logger="finadvisor.catalog.index"):
        synced = CatalogIndex.open_or_build(tmp_path / "idx", HashEmbedder(), path)
    assert synced.get(HAND.link) == HAND and synced.get(entries[0]["link"]) is None
    assert len(synced) == len(entries) and synced.added_ids == {HAND.id}
    assert any("kept 1 services added with `catalog add`" in r.getMessage() for r in caplog.records)

    _catalog(tmp_path, [*entries[1:], HAND.model_dump(include={"id", "service", "link", "description"})])
    owned = CatalogIndex.open_or_build(tmp_path / "idx", HashEmbedder(), path)  # the file lists it now
    assert owned.get(HAND.id) is not None and owned.added_ids == frozenset()
    _catalog(tmp_path, entries[1:])
    assert CatalogIndex.open_or_build(tmp_path / "idx", HashEmbedder(), path).get(HAND.id) is None


def test_a_file_service_claiming_the_link_wins(tmp_path: Path) -> None:
    entries = json.loads(demo_catalog_path().read_text(encoding="utf-8"))
    path = _catalog(tmp_path, entries)
    CatalogIndex.open_or_build(tmp_path / "idx", HashEmbedder(), path).add([HAND])
    rival = {
        "id": "ve-ca-nhac-chinh-thuc",
        "service": "Vé ca nhạc (chính thức)",
        "link": HAND.link,
        "description": "Vé ca nhạc, liveshow",
    }
    _catalog(tmp_path, [*entries, rival])
    synced = CatalogIndex.open_or_build(tmp_path / "idx", HashEmbedder(), path)
    assert synced.get(HAND.link).service == rival["service"] and synced.get(HAND.id) is None
    assert synced.added_ids == frozenset()


def test_cli_sync_matches_exactly_and_warns_unless_keep_added(tmp_path: Path) -> None:
    runner = CliRunner()
    entries = json.loads(demo_catalog_path().read_text(encoding="utf-8"))
    path = _catalog(tmp_path, entries)
    idx = str(tmp_path / "idx")
    assert (
        runner.invoke(
            app,
            ["build", str(path), "--index", idx, "--embedder", "hash", "--no-vocabulary"],
            catch_exceptions=False,
        ).exit_code
        == 0
    )
    entry = tmp_path / "e.json"
    entry.write_text(
        json.dumps(HAND.model_dump(include={"service", "link", "description"}), ensure_ascii=False)
    )
    assert runner.invoke(app, ["add", str(entry), "--index", idx], catch_exceptions=False).exit_code == 0
    _catalog(tmp_path, entries[1:])
    kept = runner.invoke(app, ["sync", str(path), "--index", idx, "--keep-added"], catch_exceptions=False)
    assert "removed 1;" in kept.stdout and "kept 1 services added with `catalog add`" in kept.stderr
    _catalog(tmp_path, entries[2:])
    out = runner.invoke(app, ["sync", str(path), "--index", idx], catch_exceptions=False)
    assert out.exit_code == 0 and "removed 2;" in out.stdout
    assert (
        f"warning: removed 1 services added with `catalog add` that {path} does not list ({HAND.id})"
        in out.stderr
    )
    assert CatalogIndex.open(Path(idx), HashEmbedder()).get(HAND.link) is None
