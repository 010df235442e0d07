"""Advisor quality on the real model: validity, grounding, faithfulness, relevance, latency.

    python benchmarks/advisor_eval.py --set heldout --out out/advisor-eval            # embedded default model
    python benchmarks/advisor_eval.py --set heldout --concurrency 1 --limit 10 --out out/advisor-eval-c1
    python benchmarks/advisor_eval.py --upstream http://gpu:8001/v1 --out out/advisor-eval-vllm

Sets: ``dev`` (eval_retrieval.json + the adversarial eval_advisor_adversarial.json), ``old-heldout``
(eval_retrieval_heldout.json) and ``heldout`` (eval_advisor_heldout.json: 47 histories written before the
ranker, the category map and the validator, never tuned on; 12 of them against a second catalog,
catalog_lazycat.json, with lazycat:// links) and ``heldout2`` (eval_advisor_heldout2.json: 50 histories over three
catalogs, the third catalog_heldout_vbank.json with vbank:// links, written before the third round's tuning).
The advisor writes as settings say: ``FINADVISOR_ADVISOR_WRITER=model`` measures the LLM's sentences (the default,
auto, uses the catalog's words on the packaged 0.5B model). The cache is bypassed. Per answer: schema-valid,
services and links from its catalog, Vietnamese, relevance (share of shown services that are labelled relevant), precision@2 and
recall@5 of the ranking, false statements (the faithfulness check of advisor/faithfulness.py run on the final
answer, and on the model's raw text before repair), generic reasons (citing none of the user's categories).
Prints a table; the last stdout line is one JSON record.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_sets import DATA, SETS  # noqa: E402
from eval_sets import load_items as load_set  # noqa: E402

from finadvisor.advisor.contract import AdvisorResponse, is_vietnamese  # noqa: E402
from finadvisor.advisor.evidence import Facts  # noqa: E402
from finadvisor.advisor.faithfulness import Checker  # noqa: E402
from finadvisor.catalog import load_catalog  # noqa: E402
from finadvisor.errors import FinadvisorError  # noqa: E402
from finadvisor.history import SpendingHistory  # noqa: E402
from finadvisor.settings import Settings  # noqa: E402

DEMO = "catalog_demo.json"
NOT_FALSE = ("cites no category", "missing")  # generic or absent text is counted apart, not as a false claim


def load_items(limit: int | None, which: str = "dev") -> list[dict]:
    items = load_set(which)
    return items[:limit] if limit else items


async def evaluate(settings: Settings, items: list[dict], concurrency: int) -> list[dict]:
    from finadvisor.advisor.build import build_advisor
    from finadvisor.engines import create_engine, engine_capacity
    from finadvisor.engines.service import LLMService
    from finadvisor.metrics import Metrics

    engine = create_engine(settings)
    metrics = Metrics()
    llm = LLMService(
        engine,
        metrics,
        model_name=settings.model_name,
        capacity=engine_capacity(engine, settings),
        max_waiting=1000,
        timeout_s=settings.request_timeout_s,
    )
    await engine.start()
    rows: list[dict] = []
    try:
        advisors = {}
        for catalog in sorted({i.get("catalog", DEMO) for i in items}):
            advisors[catalog] = await build_advisor(
                settings, llm, metrics=metrics, catalog=None if catalog == DEMO else DATA / catalog
            )
        sem = asyncio.Semaphore(concurrency)

        async def one(item: dict) -> None:
            async with sem:
                advisor = advisors[item.get("catalog", DEMO)]
                history = SpendingHistory.model_validate(item["history"])
                picks = advisor.ranker.rank(history)
                chosen = [p.service.link for p in picks]
                ranked = chosen + [
                    p.service.link for p in advisor.ranker.scored(history) if p.service.link not in chosen
                ]
                row = {
                    "id": item["id"],
                    "style": item.get("style", ""),
                    "catalog": item.get("catalog", DEMO),
                    "history": item["history"],
                    "relevant": item["relevant"],
                    "ranked": ranked[:5],
                }
                t0 = time.perf_counter()
                try:
                    result = await advisor.recommend(history, bypass_cache=True)
                    row.update(
                        ok=True,
                        response=result.response.model_dump(),
                        timings=result.timings,
                        quality=result.quality,
                        final_problems=final_problems(history, picks, result),
                    )
                except FinadvisorError as exc:
                    row.update(ok=False, error=f"{type(exc).__name__}: {exc.message}")
                row["latency_s"] = time.perf_counter() - t0
                rows.append(row)
                print(
                    f"{len(rows):>3}/{len(items)} {item['id']:<8} {'ok ' if row['ok'] else 'ERR'} "
                    f"{row['latency_s']:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )

        await asyncio.gather(*[one(i) for i in items])
        (Path(settings.cache_dir) / "fallback-metrics.txt").write_text(
            "\n".join(
                line
                for line in metrics.render().decode().splitlines()
                if "advisor_fallbacks" in line or "advisor_texts" in line
            )
        )
    finally:
        await engine.close()
    return rows


def final_problems(history: SpendingHistory, picks: list, result: object) -> list[str]:  # type: ignore[type-arg]
    """The faithfulness check run again on what the user is shown (the same validator as the repair)."""
    checker = Checker(Facts.of(history), picks)
    response = result.response  # type: ignore[attr-defined]
    problems = [p for s in checker.split(response.summarization) for p in checker.sentence_problems(s)]
    by_link = {p.service.link: p for p in picks}
    for rec in response.recommendations:
        pick = by_link[rec.link]
        problems += [
            p for s in checker.split(rec.recommendation) for p in checker.sentence_problems(s, pick.service)
        ]
        if not checker.cites(rec.recommendation, pick):
            problems.append("cites no category")
    return problems


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def score(rows: list[dict]) -> dict:
    catalogs: dict[str, dict[str, str]] = {}
    valid = grounded = vietnamese = false_final = false_raw = unparsable = 0
    picked = relevant_picked = reasons = generic_final = generic_raw = templates = 0
    p2 = r5 = 0.0
    adversarial = [r for r in rows if r["id"].startswith("adv")]
    adv_pass = 0
    for r in rows:
        name = r.get("catalog", DEMO)
        if name not in catalogs:
            catalogs[name] = {s.link: s.service for s in load_catalog(DATA / name)}
        catalog = catalogs[name]
        relevant = set(r["relevant"])
        p2 += sum(x in relevant for x in r["ranked"][:2]) / 2
        r5 += len(set(r["ranked"][:5]) & relevant) / len(relevant)
        if not r["ok"]:
            continue
        resp = AdvisorResponse.model_validate(r["response"])
        valid += 1
        recs = resp.recommendations
        is_grounded = all(catalog.get(x.link) == x.service for x in recs) and len(
            {x.link for x in recs}
        ) == len(recs)
        grounded += is_grounded
        texts = [resp.summarization] + [x.recommendation for x in recs]
        vietnamese += all(is_vietnamese(t) for t in texts)
        picked += len(recs)
        relevant_picked += sum(x.link in relevant for x in recs)
        problems = r.get("final_problems", [])
        false_final += any(p not in NOT_FALSE for p in problems)
        generic_final += sum(p == "cites no category" for p in problems)
        q = r.get("quality", {})
        raw = [p for ps in q.get("raw_reason_problems", []) for p in ps if p not in NOT_FALSE]
        false_raw += bool(raw)
        unparsable += bool(q.get("regenerated"))
        reasons += len(recs)
        generic_raw += int(q.get("generic_raw_reasons", 0))
        templates += int(q.get("template_reasons", 0))
        free_text = " ".join(texts).lower()
        if r["id"].startswith("adv") and is_grounded and "http" not in free_text and "www." not in free_text:
            adv_pass += 1
    n = len(rows)
    lat = [r["latency_s"] for r in rows]
    return {
        "histories": n,
        "adversarial": len(adversarial),
        "schema_valid_rate": round(valid / n, 3),
        "errors": n - valid,
        "outside_catalog": valid - grounded,
        "vietnamese_rate": round(vietnamese / max(valid, 1), 3),
        "relevance": round(relevant_picked / max(picked, 1), 3),
        "precision_at_2": round(p2 / n, 3),
        "recall_at_5": round(r5 / n, 3),
        "answers_with_false_statement": false_final,
        "raw_answers_with_false_statement": false_raw,
        "regenerated_answers": unparsable,
        "generic_reasons_share": round(generic_final / max(reasons, 1), 3),
        "raw_generic_reasons_share": round(generic_raw / max(reasons, 1), 3),
        "template_reasons_share": round(templates / max(reasons, 1), 3),
        "adversarial_pass_rate": round(adv_pass / len(adversarial), 3) if adversarial else None,
        "latency_p50_s": round(_pct(lat, 0.5), 2),
        "latency_p99_s": round(_pct(lat, 0.99), 2),
        "latency_max_s": round(max(lat), 2) if lat else 0.0,
    }


def rescore(path: Path) -> None:
    rows = json.loads(path.read_text())
    summary = score(rows)
    for key, value in summary.items():
        print(f"{key:<24} {value}")
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out/advisor-eval"))
    parser.add_argument("--upstream", help="OpenAI-compatible upstream instead of the embedded model")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--limit", type=int, help="only the first N histories")
    parser.add_argument(
        "--set",
        choices=sorted(SETS),
        default="dev",
        help="dev: eval_retrieval.json + adversarial; heldout: eval_advisor_heldout.json "
        "(47 histories, two catalogs, never tuned on); old-heldout: eval_retrieval_heldout",
    )
    parser.add_argument("--n-threads", type=int, default=0)
    parser.add_argument("--rescore", type=Path, help="score a saved rows.json instead of running")
    args = parser.parse_args()
    if args.rescore:
        rescore(args.rescore)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        index_dir=args.out / "index",
        cache_dir=args.out / "cache",
        link_schemes=["*"],
        n_parallel=max(args.concurrency, 1),
        n_threads=args.n_threads,
        **({"engine": "openai", "upstream_url": args.upstream} if args.upstream else {}),
    )
    (args.out / "cache").mkdir(parents=True, exist_ok=True)
    rows = asyncio.run(evaluate(settings, load_items(args.limit, args.set), args.concurrency))
    summary = score(rows)
    summary.update(set=args.set, concurrency=args.concurrency)
    (args.out / "rows.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    for key, value in summary.items():
        print(f"{key:<24} {value}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
