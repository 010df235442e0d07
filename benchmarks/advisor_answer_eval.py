"""The advisor's answers as a user sees them, scored the way issues 23 and 28 define usefulness (no LLM needed).

    python benchmarks/advisor_answer_eval.py --set heldout6 --out out/answer-eval
    python benchmarks/advisor_answer_eval.py --set all --out out/answer-eval        # every labelled set

Runs ``Advisor.recommend`` with the default writer of the packaged model (the template: the advisor's computed
facts and the catalog's words, so a miss takes milliseconds) on a fake engine, over every labelled history of a
set, and scores the answer that would be shown:

- relevance: services that fit / min(shown, services that fit), mean over histories with at least one fitting
  service. "Fit" is the item's ``relevant`` list plus its ``further_use`` list (a service already in use fits
  only for a further use);
- false pairings: shown services tied to one of the user's spending items (not a generic fallback or the
  surplus/debt signals) that neither fit nor are already in use, as a share of all shown services;
- in use: shown services the item labels as already used, as a share of all shown services; answers whose every
  service is in use;
- wallet reading: answers that call money in "thu nhập" (or state a saving rate) for a user with no income line;
  answers that count a transfer into the user's own savings or investments as spending (its name in a "chi"
  sentence, or a spending total that includes it); answers whose reasons open with the same fact clause;
- false statements: the independent audit (``advisor/audit.py``, every number traced back to the history or the
  catalog) when it exists, plus the faithfulness checker's verdict on the final text.

Every answer is kept in ``<out>/answers-<set>.json`` so the real answers can be read. Prints a table; the last
stdout line is one JSON record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_sets import DATA, SETS, load_items  # noqa: E402

from finadvisor.advisor.category_map import fold  # noqa: E402
from finadvisor.advisor.wording import vnd  # noqa: E402
from finadvisor.history import SpendingHistory  # noqa: E402
from finadvisor.settings import Settings  # noqa: E402

DEMO = "catalog_demo.json"
_INCOME_CLAIM = re.compile(r"thu nhap|de danh duoc|chi nhieu hon thu|chi vuot thu|con du")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def wallet_problems(item: dict, response: dict) -> list[str]:
    """What a wallet would call a misreading of money in and out (issue 28), read from the answer's text."""
    problems = []
    texts = [response["summarization"]] + [r["recommendation"] for r in response["recommendations"]]
    folded = [fold(t) for t in texts]
    if item.get("has_income") is False and any(_INCOME_CLAIM.search(t) for t in folded):
        problems.append("income claimed without income")
    saving = [fold(n) for n in item.get("saving_lines", [])]
    if saving:
        spending = SpendingHistory.model_validate(item["history"]).spending
        total = sum(c.amount for c in spending)
        kept = sum(c.amount for c in spending if fold(c.name) not in saving)
        if total != kept and any(f"chi {fold(vnd(total))}" in t for t in folded):
            problems.append("saving counted in the spending total")
        for t in texts:
            for s in map(fold, _sentences(t)):
                bare = s
                for n in saving:
                    bare = bare.replace(n, " ") if n else bare
                if (
                    re.search(r"\bchi\b", bare)
                    and any(n and n in s for n in saving)
                    and not re.search(r"tiet kiem|dau tu|de danh|tich luy|chuyen vao", s.split(" cho ")[0])
                ):
                    problems.append("saving read as spending")
    openings = [
        _sentences(r["recommendation"])[0] for r in response["recommendations"] if r["recommendation"]
    ]
    if len(openings) != len(set(openings)):
        problems.append("repeated fact clause")
    return sorted(set(problems))


def audit(history: dict, response: dict, catalog: Path) -> list[str]:
    """The independent check (every number traced to the history or the catalog; every link the catalog's)."""
    from finadvisor.advisor.audit import audit_answer

    return list(audit_answer(history, response, catalog))


def answer_row(item: dict, picks: list, response: dict) -> dict:
    """One labelled history's answer as ``score`` reads it: the item's labels, the services shown, those tied to
    one of the user's spending lines (``false pairings`` counts only these), and the independent audit."""
    name = item.get("catalog", DEMO)
    tied = {
        p.service.link
        for p in picks
        if any(e.category is not None and e.kind == "category" for e in p.evidence)
    }
    return {
        "id": item["id"],
        "style": item.get("style", ""),
        "catalog": name,
        "history": item["history"],
        "relevant": item["relevant"],
        "in_use": item.get("in_use", []),
        "further_use": item.get("further_use", []),
        "shown": [r["link"] for r in response["recommendations"]],
        "tied": sorted(tied),
        "sources": [p.source for p in picks],
        "response": response,
        "has_income": item.get("has_income"),
        "saving_lines": item.get("saving_lines", []),
        "audit": audit(item["history"], response, DATA / name),
    }


async def evaluate(items: list[dict], out: Path) -> list[dict]:
    from finadvisor.advisor.build import build_advisor
    from finadvisor.engines import create_engine
    from finadvisor.engines.service import LLMService
    from finadvisor.metrics import Metrics

    settings = Settings(
        engine="fake",
        advisor_writer="catalog",
        index_dir=out / "index",
        cache_dir=out / "cache",
        link_schemes=["*"],
    )
    engine = create_engine(settings)
    metrics = Metrics()
    llm = LLMService(engine, metrics, model_name=settings.model_name)
    await engine.start()
    advisors = {}
    rows = []
    try:
        for item in items:
            name = item.get("catalog", DEMO)
            if name not in advisors:
                advisors[name] = await build_advisor(
                    settings, llm, metrics=metrics, catalog=None if name == DEMO else DATA / name
                )
            advisor = advisors[name]
            history = SpendingHistory.model_validate(item["history"])
            picks = advisor.ranker.rank(history)
            t0 = time.perf_counter()
            result = await advisor.recommend(history, bypass_cache=True)
            ms = (time.perf_counter() - t0) * 1000
            response = result.response.model_dump()
            rows.append({**answer_row(item, picks, response), "ms": round(ms, 2)})
    finally:
        for advisor in advisors.values():
            await advisor.close()
        await engine.close()
    return rows


def score(rows: list[dict]) -> dict:
    shown_total = false_pair = in_use = all_in_use = 0
    rel: list[float] = []
    share_rel: list[float] = []
    for r in rows:
        r["wallet_problems"] = wallet_problems(r, r["response"])
        fits = set(r["relevant"]) | set(r["further_use"])
        shown = r["shown"]
        used = set(r["in_use"]) - set(r["further_use"])
        shown_total += len(shown)
        r["false_pairings"] = [s for s in shown if s in r["tied"] and s not in fits and s not in used]
        false_pair += len(r["false_pairings"])
        in_use += sum(s in used for s in shown)
        all_in_use += bool(shown) and all(s in used for s in shown)
        if fits:
            rel.append(sum(s in fits for s in shown) / min(len(shown), len(fits)) if shown else 0.0)
            share_rel.append(sum(s in fits for s in shown) / len(shown) if shown else 0.0)
    kinds = (
        "income claimed without income",
        "saving counted in the spending total",
        "saving read as spending",
        "repeated fact clause",
    )
    ms = sorted(r["ms"] for r in rows)
    return {
        "histories": len(rows),
        "scored_for_relevance": len(rel),
        "relevance": round(sum(rel) / len(rel), 3) if rel else None,
        "relevance_share_of_shown": round(sum(share_rel) / len(share_rel), 3) if share_rel else None,
        "false_pairings_share": round(false_pair / max(shown_total, 1), 3),
        "false_pairings": false_pair,
        "in_use_share": round(in_use / max(shown_total, 1), 3),
        "answers_all_in_use": all_in_use,
        **{k.replace(" ", "_"): sum(k in r["wallet_problems"] for r in rows) for k in kinds},
        "answers_with_audit_problem": sum(bool(r["audit"]) for r in rows),
        "shown": shown_total,
        "miss_ms_p50": ms[len(ms) // 2] if ms else None,
    }


def rescore(path: Path) -> dict:
    """Score a saved answers file again (labels are read from its set, so a fixed scorer re-reads old runs)."""
    data = json.loads(path.read_text())
    rows = data["answers"] if isinstance(data, dict) else data
    labels = {i["id"]: i for name in SETS for i in load_items(name)}
    for r in rows:
        item = labels.get(r["id"], {})
        r.setdefault("has_income", item.get("has_income"))
        r.setdefault("saving_lines", item.get("saving_lines", []))
    return score(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=[*sorted(SETS), "all"], default="heldout6")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--rescore", type=Path, help="score a saved answers file instead of running")
    args = ap.parse_args()
    if args.rescore:
        print(json.dumps(rescore(args.rescore), ensure_ascii=False))
        return
    if args.out is None:
        ap.error("--out is required unless --rescore is given")
    args.out.mkdir(parents=True, exist_ok=True)
    names = sorted(SETS) if args.set == "all" else [args.set]
    summary: dict[str, dict] = {}
    for name in names:
        items = load_items(name)
        if not items:
            continue
        rows = asyncio.run(evaluate(items, args.out / name))
        summary[name] = score(rows)
        (args.out / f"answers-{name}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    cols = (
        "histories",
        "relevance",
        "false_pairings_share",
        "in_use_share",
        "answers_all_in_use",
        "income_claimed_without_income",
        "saving_read_as_spending",
        "repeated_fact_clause",
        "answers_with_audit_problem",
    )
    print(f"{'set':<12}" + "".join(f"{c[:14]:>16}" for c in cols))
    for name, s in summary.items():
        print(f"{name:<12}" + "".join(f"{str(s[c]):>16}" for c in cols))
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
