"""Several writers on one index folder (issue 14 item 6): no writer's change is lost and the folder always loads.

Two processes start on a barrier and each add 20 services, one `add` at a time, through an index object they
opened before the other's adds (so every add has to take in the other's saves), and each saves a category name
after every add. Then the folder must load and hold all 40 services and all 40 names. Before the folder lock, the
last `meta.json` won and a save deleted the other writer's vectors file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from finadvisor.catalog import CatalogIndex, HashEmbedder, Service, demo_catalog_path, load_catalog

ADDS = 20
WORKER = r"""
import sys, time
from pathlib import Path
from finadvisor.catalog import CatalogIndex, HashEmbedder, Service
folder, name, barrier, n = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
index = CatalogIndex.open(folder, HashEmbedder())
(barrier / f"ready-{name}").touch()
while not (barrier / "go").exists():
    time.sleep(0.001)
for i in range(n):
    index.add([Service(service=f"Dịch vụ {name} {i}", link=f"https://finadvisor.vn/dich-vu/{name}-{i}",
                       description=f"Mô tả dịch vụ {name} số {i}")])
    index.warm_queries([f"Danh mục {name} {i}"], persist=True)
"""


def _build(folder: Path) -> int:
    services = load_catalog(demo_catalog_path())
    CatalogIndex.build(services, HashEmbedder(), folder)
    return len(services)


def _run_writers(folder: Path, barrier: Path, names: list[str], adds: int) -> None:
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(folder), name, str(barrier), str(adds)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    deadline = time.monotonic() + 120
    while not all((barrier / f"ready-{n}").exists() for n in names):
        assert time.monotonic() < deadline, "writers did not start"
        assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs]
        time.sleep(0.005)
    (barrier / "go").touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err


@pytest.mark.parametrize("attempt", range(3))
def test_two_processes_on_a_barrier_lose_nothing(tmp_path: Path, attempt: int) -> None:
    folder = tmp_path / "idx"
    base = _build(folder)
    _run_writers(folder, tmp_path / "barrier", ["a", "b"], ADDS)

    index = CatalogIndex.open(folder, HashEmbedder())  # loads: meta.json and its vectors file agree
    links = {s.link for s in index.services()}
    wanted = {f"https://finadvisor.vn/dich-vu/{n}-{i}" for n in "ab" for i in range(ADDS)}
    assert len(index) == base + 2 * ADDS and wanted <= links
    assert index.added_ids == {s.id for s in index.services() if s.link in wanted}
    assert [p.name for p in folder.glob("vectors-*.faiss")] == [f"vectors-{index.version}.faiss"]
    assert not list(folder.glob("*.tmp"))
    assert index.search("Mô tả dịch vụ b số 7", 1)[0].service.link.endswith("/b-7")
    saved = {str(t) for t in _saved_texts(folder / "queries.npz")}
    assert {f"Danh mục {n} {i}" for n in "ab" for i in range(ADDS)} <= saved


def test_a_stale_index_object_takes_in_another_writers_changes(tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    base = _build(folder)
    first, second = CatalogIndex.open(folder, HashEmbedder()), CatalogIndex.open(folder, HashEmbedder())
    x = Service(
        service="Vé ca nhạc", link="https://finadvisor.vn/dich-vu/ve-ca-nhac", description="Vé ca nhạc"
    )
    y = Service(
        service="Vé xem phim", link="https://finadvisor.vn/dich-vu/ve-phim-moi", description="Vé phim"
    )
    first.add([x])
    second.add([y])  # reloads first's save before adding
    assert second.get(x.link) == x and len(second) == base + 2
    first.remove([y.link])  # and the other way round
    assert first.get(y.link) is None and first.get(x.link) == x
    assert first.search("Vé ca nhạc", 1)[0].service.link == x.link
    reopened = CatalogIndex.open(folder, HashEmbedder())
    assert len(reopened) == base + 1 and reopened.get(x.link) == x and reopened.version == first.version
    clash = Service(id="other", service="Khác", link=x.link, description="khác")
    with pytest.raises(Exception, match="already belongs to service id"):
        second.add([clash])  # the link check sees the other writer's service


@pytest.mark.integration
def test_ten_cli_adds_at_once_leave_a_loadable_index(tmp_path: Path) -> None:
    """The issue's own probe: simultaneous `finadvisor catalog add` processes, one new service each."""
    folder = tmp_path / "idx"
    base = _build(folder)
    procs = []
    for i in range(10):
        entry = tmp_path / f"e{i}.json"
        entry.write_text(
            json.dumps(
                {
                    "service": f"Dịch vụ mới {i}",
                    "link": f"https://finadvisor.vn/dich-vu/moi-{i}",
                    "description": f"Mô tả mới {i}",
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from finadvisor.cli import main; main()",
                    "catalog",
                    "add",
                    str(entry),
                    "--index",
                    str(folder),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    index = CatalogIndex.open(folder, HashEmbedder())
    assert len(index) == base + 10
    assert {f"https://finadvisor.vn/dich-vu/moi-{i}" for i in range(10)} <= {s.link for s in index.services()}


def _saved_texts(path):  # type: ignore[no-untyped-def]

    with np.load(path, allow_pickle=False) as data:
        return list(data["texts"])
