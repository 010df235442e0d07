"""The index folder's lock and durability (issue 14 item 6): who may hold it, and what a save makes durable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from finadvisor.catalog import CatalogIndex, HashEmbedder, Service, demo_catalog_path, load_catalog, store

TRY_LOCK = (
    "import fcntl, sys\nf = open(sys.argv[1])\ntry:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
    "except BlockingIOError:\n    sys.exit(3)\n"
)


def _try_lock_elsewhere(folder: Path) -> int:
    return subprocess.run([sys.executable, "-c", TRY_LOCK, str(folder / store.LOCK)], timeout=60).returncode


def test_a_writer_excludes_other_processes_and_is_reentrant(tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    with store.locked(folder) as outer:
        assert outer is True
        with store.locked(folder) as inner, store.locked(folder, exclusive=False) as shared:
            assert inner is False and shared is False  # same thread: no second flock, no deadlock
        assert _try_lock_elsewhere(folder) == 3
    assert _try_lock_elsewhere(folder) == 0
    with store.locked(folder, exclusive=False), pytest.raises(RuntimeError, match="exclusive lock"):
        with store.locked(folder):
            pass


def test_a_reader_leaves_a_folder_that_is_not_an_index_alone(tmp_path: Path) -> None:
    from finadvisor.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a catalog index"):
        CatalogIndex.open(tmp_path, HashEmbedder())
    assert list(tmp_path.iterdir()) == []


def test_an_index_whose_lock_file_cannot_be_created_still_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = load_catalog(demo_catalog_path())
    CatalogIndex.build(services, HashEmbedder(), tmp_path / "idx")
    (tmp_path / "idx" / store.LOCK).unlink()
    real_open = os.open

    def read_only_folder(path, flags, *args):  # type: ignore[no-untyped-def]
        if str(path).endswith(store.LOCK):
            raise PermissionError(13, "Read-only file system")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only_folder)
    assert len(CatalogIndex.open(tmp_path / "idx", HashEmbedder())) == len(services)


def test_a_save_fsyncs_the_folder_after_each_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import finadvisor.fsutil

    index = CatalogIndex.build(load_catalog(demo_catalog_path()), HashEmbedder(), tmp_path / "idx")
    synced: list[Path] = []
    monkeypatch.setattr(finadvisor.fsutil, "fsync_dir", lambda folder: synced.append(Path(folder)))
    index.add([Service(service="Mới", link="https://finadvisor.vn/dich-vu/moi", description="Dịch vụ mới")])
    assert synced == [tmp_path / "idx", tmp_path / "idx"]  # the vectors file, then meta.json
