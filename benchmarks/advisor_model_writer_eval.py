"""The model writer against the template, on the packaged model, side by side in one run (issue 24).

    python benchmarks/advisor_model_writer_eval.py --set heldout9 --out out/model-writer \
        [--adapter out/writer] [--configs template,base,adapter] [--concurrency 1,4] [--limit 40]

For each configuration (``template``: no model; ``base``: the packaged 0.5B with the placeholder grammar;
``adapter``: the same with the writer LoRA of ``--adapter``) it runs the real Advisor with the llama.cpp engine
over every history of the set, every request a cache miss, and reports:

- reasons written by the model (``advisor_reasons_total{writer}``) and candidates drawn per reason;
- answers with a false statement (the independent audit, ``advisor/audit.py``) and the gate's verdict;
- reasons with an 8-syllable run of their service's catalog description; generic reasons (naming none of the
  user's items, amounts or idle money);
- reasons whose service has a computable benefit (``catalog_facts.estimate``) that state it in đồng;
- relevance (the ranker decides, so it must equal the template's) and the miss latency p50/p90 at each
  concurrency, with the completion tokens per answer the engine reported.

Every answer is kept in ``<out>/answers-<config>.json`` so the sentences can be read. Prints a table; the last
stdout line is one JSON record, also written to ``<out>/advisor_model_writer_eval.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from advisor_answer_eval import answer_row, score  # noqa: E402
from eval_sets import DATA, SETS, load_items  # noqa: E402

from finadvisor.advisor.faithfulness import _grams  # noqa: E402
from finadvisor.advisor.slot_writer import COPY_RUN  # noqa: E402
from finadvisor.history import SpendingHistory  # noqa: E402
from finadvisor.settings import Settings  # noqa: E402

_ESTIMATE = re.compile(r"khoảng [\d.]+ đ")


def settings_for(
    config: str, out: Path, adapter: Path | None, candidates: int, n_parallel: int = 4
) -> Settings:
    lora = [f"writer={adapter}"] if config == "adapter" and adapter is not None else []
    return Settings(
        engine="llamacpp",
        advisor_writer="template" if config == "template" else "model",
        advisor_writer_adapter="writer" if lora else None,
        advisor_candidates=candidates,
        lora=lora,
        index_dir=out / "index",
        link_schemes=["*"],
        n_parallel=n_parallel,
    )


async def run_config(
    config: str,
    items: list[dict],
    out: Path,
    adapter: Path | None,
    candidates: int,
    levels: list[int],
    n_parallel: int = 4,
) -> tuple[list[dict], dict]:
    from finadvisor.advisor.build import build_advisor
    from finadvisor.advisor.catalog_facts import estimate
    from finadvisor.engines import create_engine
    from finadvisor.engines.service import LLMService
    from finadvisor.metrics import Metrics

    settings = settings_for(config, out, adapter, candidates, n_parallel)
    engine = create_engine(settings)
    metrics = Metrics()
    llm = LLMService(engine, metrics, model_name=settings.model_name, capacity=8)
    await engine.start()
    advisors: dict[str, object] = {}
    rows: list[dict] = []
    latency: dict[int, list[float]] = {}
    try:
        for item in items:
            name = item["catalog"]
            if name not in advisors:
                advisors[name] = await build_advisor(settings, llm, metrics=metrics, catalog=DATA / name)
        for level in levels:
            batch = items if level == 1 else items[: max(level * 3, level)]
            times: list[float] = []
            for start in range(0, len(batch), level):
                group = batch[start : start + level]

                async def one(item: dict) -> tuple[dict, object, float]:
                    advisor = advisors[item["catalog"]]
                    history = SpendingHistory.model_validate(item["history"])
                    t0 = time.perf_counter()
                    result = await advisor.recommend(history, bypass_cache=True)  # type: ignore[attr-defined]
                    return item, result, time.perf_counter() - t0

                done = await asyncio.gather(*(one(i) for i in group))
                times += [dt for _, _, dt in done]
                if level != 1:
                    continue
                for item, result, dt in done:
                    advisor = advisors[item["catalog"]]
                    history = SpendingHistory.model_validate(item["history"])
                    facts, picks = advisor.ranker.read_and_rank(history)  # type: ignore[attr-defined]
                    response = result.response.model_dump()  # type: ignore[attr-defined]
                    catalog = advisor.catalog_facts  # type: ignore[attr-defined]
                    computable = [
                        estimate(p, facts, picks[:i], catalog) is not None for i, p in enumerate(picks)
                    ]
                    mine = [c.name for c in facts.lines()] + [
                        f"{round(v):,}".replace(",", ".")
                        for v in (facts.surplus, facts.spent, facts.earned)
                        if v > 0
                    ]
                    reasons = [r["recommendation"] for r in response["recommendations"]]
                    services = {s.link: s for s in advisor.index.services()}  # type: ignore[attr-defined]
                    quality = result.quality  # type: ignore[attr-defined]
                    rows.append(
                        {
                            **answer_row(item, picks, response),
                            "ms": round(dt * 1000, 1),
                            "written_by": quality.get("written_by", ["template"] * len(reasons)),
                            "candidates": quality.get("candidates", [0] * len(reasons)),
                            "rejected": quality.get("rejected", []),
                            "raw": quality.get("raw", []),
                            "completion_tokens": quality.get("completion_tokens", 0),
                            "computable_benefit": computable,
                            "benefit_stated": [bool(_ESTIMATE.search(t)) for t in reasons],
                            "copies_description": [
                                bool(_grams(t, COPY_RUN) & _grams(services[r["link"]].description, COPY_RUN))
                                for t, r in zip(reasons, response["recommendations"], strict=True)
                            ],
                            "generic": [not any(m and m in t for m in mine) for t in reasons],
                        }
                    )
            latency[level] = times
    finally:
        for advisor in advisors.values():
            await advisor.close()  # type: ignore[attr-defined]
        await engine.close()
    return rows, {
        f"c{level}": {
            "n": len(t),
            "p50_s": round(statistics.median(t), 2),
            "p90_s": round(sorted(t)[min(len(t) - 1, math.ceil(0.9 * len(t)) - 1)], 2),
        }
        for level, t in latency.items()
        if t
    }


def summarize(rows: list[dict], latency: dict) -> dict:
    reasons = sum(len(r["written_by"]) for r in rows)
    model = sum(w == "model" for r in rows for w in r["written_by"])
    computable = [
        s for r in rows for c, s in zip(r["computable_benefit"], r["benefit_stated"], strict=False) if c
    ]
    drawn = [c for r in rows for c in r["candidates"] if c]
    base = score([dict(r) for r in rows])
    return {
        "histories": len(rows),
        "reasons": reasons,
        "model_written_share": round(model / max(reasons, 1), 3),
        "answers_with_audit_problem": sum(bool(r["audit"]) for r in rows),
        "description_run_share": round(
            sum(c for r in rows for c in r["copies_description"]) / max(reasons, 1), 3
        ),
        "generic_share": round(sum(g for r in rows for g in r["generic"]) / max(reasons, 1), 3),
        "benefit_stated_where_computable": f"{sum(computable)}/{len(computable)}",
        "candidates_per_model_reason": round(sum(drawn) / len(drawn), 2) if drawn else None,
        "tokens_per_answer": round(sum(r["completion_tokens"] for r in rows) / max(len(rows), 1), 1),
        "relevance": base["relevance"],
        "false_pairings_share": base["false_pairings_share"],
        "latency": latency,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=sorted(SETS), default="heldout9")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--adapter", type=Path, help="the writer LoRA folder (with adapter.gguf) or .gguf file")
    ap.add_argument("--configs", default="template,base,adapter")
    ap.add_argument("--concurrency", default="1,4")
    ap.add_argument("--candidates", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--n-parallel", type=int, default=4, help="llama.cpp slots (the server's --n-parallel)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    items = load_items(args.set)[: args.limit or None]
    levels = [int(c) for c in args.concurrency.split(",")]
    summary: dict[str, dict] = {}
    for config in args.configs.split(","):
        if config == "adapter" and args.adapter is None:
            continue
        rows, latency = asyncio.run(
            run_config(config, items, args.out, args.adapter, args.candidates, levels)
        )
        summary[config] = summarize(rows, latency)
        (args.out / f"answers-{config}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))
        print(config, json.dumps(summary[config], ensure_ascii=False), flush=True)
    cols = (
        "model_written_share",
        "answers_with_audit_problem",
        "description_run_share",
        "generic_share",
        "benefit_stated_where_computable",
        "candidates_per_model_reason",
        "relevance",
    )
    print(f"{'config':<10}" + "".join(f"{c[:16]:>18}" for c in cols) + f"{'c1 p50':>10}{'c4 p50':>10}")
    for name, s in summary.items():
        lat = s["latency"]
        print(
            f"{name:<10}"
            + "".join(f"{str(s[c]):>18}" for c in cols)
            + f"{str(lat.get('c1', {}).get('p50_s')):>10}{str(lat.get('c4', {}).get('p50_s')):>10}"
        )
    record = {
        "set": args.set,
        "adapter": str(args.adapter) if args.adapter else None,
        "n_parallel": args.n_parallel,
        "configs": summary,
    }
    (args.out / "advisor_model_writer_eval.json").write_text(json.dumps(record, ensure_ascii=False, indent=1))
    print(json.dumps(record, ensure_ascii=False))


if __name__ == "__main__":
    main()
