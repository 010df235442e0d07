"""The FAISS-backed CatalogIndex: incremental updates, persistence, refusal of bad folders, concurrency."""

from __future__ import annotations

import json
import threading

import pytest

from finadvisor.catalog import CatalogIndex, HashEmbedder, Service
from finadvisor.catalog.embedders import HashEmbedder as _Hash
from finadvisor.errors import ConfigError, ValidationFailed
from finadvisor.history import SpendingHistory

NEW = Service(
    service="Vé ca nhạc",
    link="https://finadvisor.vn/dich-vu/ve-ca-nhac",
    description="Đặt vé ca nhạc, liveshow và lễ hội âm nhạc, chọn khu vực ghế ngồi",
)


def test_add_makes_new_service_searchable_without_rebuild(demo_services, hash_embedder, tmp_path):
    index = CatalogIndex.build(demo_services, hash_embedder, tmp_path / "idx")
    v0 = index.version
    assert index.search("vé ca nhạc liveshow", 1)[0].service.link != NEW.link
    index.add([NEW])
    assert len(index) == len(demo_services) + 1
    assert index.version != v0
    assert index.search("vé ca nhạc liveshow", 1)[0].service.link == NEW.link
    assert index.get(NEW.link) == NEW and index.get(NEW.id) == NEW


def test_add_same_id_updates_in_place(demo_services, hash_embedder):
    index = CatalogIndex.build(demo_services, hash_embedder, None)
    target = demo_services[0]
    changed = Service(
        id=target.id,
        service=target.service,
        link=target.link,
        description="Dịch vụ đổi ngoại tệ đô la euro yên",
    )
    index.add([changed])
    assert len(index) == len(demo_services)
    assert index.get(target.id).description.startswith("Dịch vụ đổi ngoại tệ")
    assert index.search("đổi ngoại tệ đô la", 1)[0].service.id == target.id


def test_link_owned_by_another_id_is_refused(demo_services, hash_embedder):
    index = CatalogIndex.build(demo_services, hash_embedder, None)
    clash = Service(id="other", service="X", link=demo_services[0].link, description="y")
    with pytest.raises(ValidationFailed, match="already belongs to service id"):
        index.add([clash])


def test_remove_by_id_and_link(demo_services, hash_embedder, tmp_path):
    index = CatalogIndex.build(demo_services, hash_embedder, tmp_path / "idx")
    a, b = demo_services[0], demo_services[1]
    v0 = index.version
    assert index.remove([a.id, b.link, "no-such-service"]) == 2
    assert index.version != v0
    assert index.get(a.id) is None and index.get(b.link) is None
    assert all(h.service.id not in (a.id, b.id) for h in index.search(a.description, 10))
    assert index.remove(["no-such-service"]) == 0
    reopened = CatalogIndex.open(tmp_path / "idx", hash_embedder)
    assert len(reopened) == len(demo_services) - 2 and reopened.get(a.id) is None


def test_persist_and_reload_round_trip(demo_services, hash_embedder, tmp_path):
    index = CatalogIndex.build(demo_services, hash_embedder, tmp_path / "idx")
    index.add([NEW])
    reopened = CatalogIndex.open(tmp_path / "idx", hash_embedder)
    assert reopened.version == index.version
    assert [s.model_dump() for s in reopened.services()] == [s.model_dump() for s in index.services()]
    q = "thanh toán hóa đơn điện"
    assert [(h.service.id, round(h.score, 5)) for h in reopened.search(q, 5)] == [
        (h.service.id, round(h.score, 5)) for h in index.search(q, 5)
    ]
    files = sorted(p.name for p in (tmp_path / "idx").iterdir())
    assert files == [
        ".lock",
        "meta.json",
        f"vectors-{index.version}.faiss",
    ]  # stale vectors files are cleaned up


def test_mismatched_embedder_is_refused(demo_services, hash_embedder, tmp_path):
    CatalogIndex.build(demo_services, hash_embedder, tmp_path / "idx")
    with pytest.raises(
        ConfigError,
        match=r"built with embedder 'hash/char3-word12/384' \(dim 384\), but the "
        r"configured embedder is 'hash/char3-word12/128' \(dim 128\)",
    ):
        CatalogIndex.open(tmp_path / "idx", _Hash(dim=128))


@pytest.mark.parametrize("damage", ["truncate_vectors", "garble_meta", "delete_vectors", "wrong_count"])
def test_corrupt_index_gives_clear_error(demo_services, hash_embedder, tmp_path, damage):
    index = CatalogIndex.build(demo_services, hash_embedder, tmp_path / "idx")
    vectors = tmp_path / "idx" / f"vectors-{index.version}.faiss"
    meta = tmp_path / "idx" / "meta.json"
    if damage == "truncate_vectors":
        vectors.write_bytes(vectors.read_bytes()[:1000])
    elif damage == "garble_meta":
        meta.write_text('{"format": "finadvisor-catalog-index", "serv')
    elif damage == "delete_vectors":
        vectors.unlink()
    else:
        data = json.loads(meta.read_text())
        data["services"] = data["services"][:-1]
        meta.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as err:
        CatalogIndex.open(tmp_path / "idx", hash_embedder)
    assert "finadvisor catalog build" in err.value.message
    assert ("corrupt" in err.value.message) or ("incomplete" in err.value.message)


def test_not_an_index_folder(tmp_path, hash_embedder):
    with pytest.raises(ConfigError, match="is not a catalog index"):
        CatalogIndex.open(tmp_path, hash_embedder)


def test_open_or_build_builds_once_then_opens(demo_services, hash_embedder, tmp_path):
    from finadvisor.catalog import demo_catalog_path

    first = CatalogIndex.open_or_build(tmp_path / "idx", hash_embedder, demo_catalog_path())
    first.add([NEW])
    second = CatalogIndex.open_or_build(tmp_path / "idx", hash_embedder, demo_catalog_path())
    assert len(second) == len(demo_services) + 1 and second.version == first.version


def test_hnsw_above_threshold_with_removals_and_compaction(hash_embedder, tmp_path):
    services = [
        Service(
            service=f"Dịch vụ số {i}",
            link=f"https://finadvisor.vn/dich-vu/s{i}",
            description=f"Mô tả riêng {i} từ khóa{i}",
        )
        for i in range(60)
    ]
    index = CatalogIndex.build(services[:40], hash_embedder, tmp_path / "idx", hnsw_threshold=50)
    assert index.kind == "flat"
    index.add(services[40:])
    assert index.kind == "hnsw" and len(index) == 60
    assert index.search("Mô tả riêng 55 từ khóa55", 1)[0].service.link.endswith("/s55")
    assert index.remove([services[55].link]) == 1
    assert all(not h.service.link.endswith("/s55") for h in index.search("Mô tả riêng 55 từ khóa55", 5))
    reopened = CatalogIndex.open(tmp_path / "idx", hash_embedder)
    assert reopened.kind == "hnsw" and len(reopened) == 59
    reopened.remove([s.link for s in services[:20]])  # > 10 % tombstones: compacts back below threshold
    assert reopened.kind == "flat" and len(reopened) == 39
    assert reopened.search("Mô tả riêng 30 từ khóa30", 1)[0].service.link.endswith("/s30")


def test_concurrent_search_while_adding(demo_services, hash_embedder):
    index = CatalogIndex.build(demo_services, hash_embedder, None)
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher():
        try:
            while not stop.is_set():
                assert index.search("hóa đơn điện", 3)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(30):
        index.add(
            [
                Service(
                    service=f"Mới {i}", link=f"https://finadvisor.vn/dich-vu/moi-{i}", description=f"mới {i}"
                )
            ]
        )
    stop.set()
    for t in threads:
        t.join()
    assert not errors and len(index) == len(demo_services) + 30


def test_search_history_merges_categories(demo_services, hash_embedder):
    index = CatalogIndex.build(demo_services, hash_embedder, None)
    history = SpendingHistory.model_validate(
        {
            "spending": [
                {"name": "Hóa đơn điện", "amount": 900000, "count": 1},
                {"name": "Vé máy bay", "amount": 3000000, "count": 1},
            ]
        }
    )
    links = [h.service.link for h in index.search_history(history, 3)]
    assert (
        "https://finadvisor.vn/dich-vu/hoa-don-dien" in links
        and "https://finadvisor.vn/dich-vu/ve-may-bay" in links
    )
    scores = [h.score for h in index.search_history(history, 5)]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6
    assert index.search_history(SpendingHistory(), 5) == []


def test_empty_index_and_empty_query(hash_embedder):
    index = CatalogIndex.build([], HashEmbedder(), None)
    assert len(index) == 0 and index.search("bất kỳ", 3) == []
    assert index.search("  ", 3) == []


def test_hnsw_recall_against_exact_search_survives_reopen(hash_embedder, tmp_path):
    import faiss
    import numpy as np

    rng = np.random.default_rng(0)
    anchors = rng.standard_normal((40, hash_embedder.dim)).astype(np.float32)
    i, j = rng.integers(0, 40, 3000), rng.integers(0, 40, 3000)
    w = rng.random((3000, 1), dtype=np.float32)
    vecs = w * anchors[i] + (1 - w) * anchors[j] + 0.3 * rng.standard_normal((3000, hash_embedder.dim))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    services = [
        Service(service=f"S{n}", link=f"https://x.vn/s/{n}", description=f"d {n}") for n in range(3000)
    ]
    CatalogIndex.build(services, hash_embedder, tmp_path / "idx", hnsw_threshold=1000, vectors=vecs)
    index = CatalogIndex.open(tmp_path / "idx", hash_embedder)
    assert index.kind == "hnsw"
    exact = faiss.IndexFlatIP(hash_embedder.dim)
    exact.add(vecs)
    queries = vecs[:200] + 0.05 * rng.standard_normal((200, hash_embedder.dim)).astype(np.float32)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    _, truth = exact.search(queries, 10)
    _, got = index._faiss.search(queries, 10)  # faiss ids are 0..2999 in insertion order here
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=True)])
    assert recall >= 0.95, recall
