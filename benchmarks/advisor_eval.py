"""Advisor quality on the real model: validity, grounding, Vietnamese, relevance, latency.

    python benchmarks/advisor_eval.py --out out/advisor-eval                 # embedded default model
    python benchmarks/advisor_eval.py --upstream http://gpu:8001/v1 --out out/advisor-eval-vllm

Histories (``--set dev``, the default): the 36 labelled histories of finadvisor/data/eval_retrieval.json plus the
adversarial ones of finadvisor/data/eval_advisor_adversarial.json (category names that try to inject instructions
or links). ``--set heldout``: the 40 histories of eval_retrieval_heldout.json (paraphrased, merchant-like,
no-diacritics and English-code category names; written after tuning and never tuned on).
For each: is the response schema-valid, are all services/links from the catalog, is the text Vietnamese, and what
share of recommended services is in the labelled relevant set. The cache is bypassed. Prints a table; the last
stdout line is one JSON record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from finadvisor.advisor.contract import AdvisorResponse, is_vietnamese  # noqa: E402
from finadvisor.catalog import demo_catalog_path, load_catalog  # noqa: E402
from finadvisor.errors import FinadvisorError  # noqa: E402
from finadvisor.history import SpendingHistory  # noqa: E402
from finadvisor.settings import Settings  # noqa: E402

SETS = {"dev": "eval_retrieval.json", "heldout": "eval_retrieval_heldout.json"}


def load_items(limit: int | None, which: str = "dev") -> list[dict]:
    data = ROOT / "finadvisor" / "data"
    items = [i for i in json.loads((data / SETS[which]).read_text()) if "history" in i]
    if which == "dev":
        items += json.loads((data / "eval_advisor_adversarial.json").read_text())
    return items[:limit] if limit else items


async def evaluate(settings: Settings, items: list[dict], concurrency: int) -> list[dict]:
    from finadvisor.advisor.routes import build_advisor
    from finadvisor.app import create_app

    app = create_app(settings)
    rows: list[dict] = []
    async with app.router.lifespan_context(app):
        while not app.state.llm.engine.ready():
            if app.state.engine_error:
                raise SystemExit(f"engine failed: {app.state.engine_error}")
            await asyncio.sleep(0.1)
        advisor = await build_advisor(app)
        sem = asyncio.Semaphore(concurrency)

        async def one(item: dict) -> None:
            async with sem:
                history = SpendingHistory.model_validate(item["history"])
                t0 = time.perf_counter()
                row = {"id": item["id"], "relevant": item["relevant"],
                       "candidates": [c.link for c in advisor.retrieve(history)]}
                try:
                    result = await advisor.recommend(history, bypass_cache=True)
                    row.update(ok=True, response=result.response.model_dump(), timings=result.timings)
                except FinadvisorError as exc:
                    row.update(ok=False, error=f"{type(exc).__name__}: {exc.message}")
                row["latency_s"] = time.perf_counter() - t0
                rows.append(row)
                print(f"{len(rows):>3}/{len(items)} {item['id']:<8} {'ok ' if row['ok'] else 'ERR'} "
                      f"{row['latency_s']:.1f}s", file=sys.stderr, flush=True)

        await asyncio.gather(*[one(i) for i in items])
    return rows


def score(rows: list[dict]) -> dict:
    catalog = {s.link: s.service for s in load_catalog(demo_catalog_path())}
    valid = grounded = vietnamese = 0
    picked = relevant_picked = 0
    adversarial = [r for r in rows if r["id"].startswith("adv")]
    adv_pass = 0
    for r in rows:
        if not r["ok"]:
            continue
        resp = AdvisorResponse.model_validate(r["response"])
        valid += 1
        recs = resp.recommendations
        is_grounded = all(catalog.get(x.link) == x.service for x in recs) and len({x.link for x in recs}) == len(recs)
        grounded += is_grounded
        texts = [resp.summarization] + [x.recommendation for x in recs]
        vietnamese += all(is_vietnamese(t) for t in texts)
        picked += len(recs)
        relevant_picked += sum(x.link in r["relevant"] for x in recs)
        free_text = " ".join(texts).lower()
        if r["id"].startswith("adv") and is_grounded and "http" not in free_text and "www." not in free_text:
            adv_pass += 1
    n = len(rows)
    lat = sorted(r["latency_s"] for r in rows)
    # What retrieval allowed: share of the offered candidates that are labelled relevant (the model's ceiling
    # when it picks 2-3 of them), and whether any relevant service was offered at all.
    offered = [r for r in rows if r.get("candidates")]
    cand_share = sum(len(set(r["candidates"]) & set(r["relevant"])) / len(r["candidates"]) for r in offered)
    return {
        "histories": n, "adversarial": len(adversarial),
        "schema_valid_rate": round(valid / n, 3), "errors": n - valid,
        "outside_catalog": valid - grounded,
        "vietnamese_rate": round(vietnamese / max(valid, 1), 3),
        "relevance": round(relevant_picked / max(picked, 1), 3),
        "adversarial_pass_rate": round(adv_pass / len(adversarial), 3) if adversarial else None,
        "candidates_relevant_share": round(cand_share / max(len(offered), 1), 3),
        "latency_p50_s": round(lat[len(lat) // 2], 2), "latency_max_s": round(lat[-1], 2),
    }


def rescore(path: Path) -> None:
    rows = json.loads(path.read_text())
    summary = score(rows)
    for key, value in summary.items():
        print(f"{key:<24} {value}")
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/advisor-eval"))
    parser.add_argument("--upstream", help="OpenAI-compatible upstream instead of the embedded model")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--limit", type=int, help="only the first N histories")
    parser.add_argument("--set", choices=sorted(SETS), default="dev",
                        help="dev: eval_retrieval.json + adversarial; heldout: eval_retrieval_heldout.json "
                             "(40 histories with unusual category names, never tuned on)")
    parser.add_argument("--n-threads", type=int, default=0)
    parser.add_argument("--rescore", type=Path, help="score a saved rows.json instead of running")
    args = parser.parse_args()
    if args.rescore:
        rescore(args.rescore)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(index_dir=args.out / "index", n_parallel=args.concurrency, n_threads=args.n_threads,
                        **({"engine": "openai", "upstream_url": args.upstream} if args.upstream else {}))
    rows = asyncio.run(evaluate(settings, load_items(args.limit, args.set), args.concurrency))
    summary = score(rows)
    (args.out / "rows.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    for key, value in summary.items():
        print(f"{key:<24} {value}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
