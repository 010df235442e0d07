"""The docs cannot drift from their results files.

1. Every ``docs/results/*.json`` that README.md or a page of docs/ names exists.
2. Every figure written as a *figure link* equals what its results file gives. A figure link is a Markdown link
   whose text is the figure, whose target is the results file and whose title says how to read it:

       [87.6%](docs/results/advisor_eval_issue13_heldout5_first_run.json "score.relevance")

   Titles (the "spec"):
   - ``score.KEY``: ``benchmarks/advisor_eval.py``'s ``score()`` over the file's rows (end-to-end evals);
   - ``audit.answers_with_problems``: answers in which ``finadvisor.advisor.audit.audit_answer`` finds a number
     it cannot trace or a link outside the catalog (the "false statements" count);
   - ``KEY=VALUE a.b.c``: in a file holding a list of records, the record whose KEY is VALUE, then the dotted
     path (``set=heldout3 ranker.relevance`` in a ranking results file); ``a.b.c`` alone reads a dict file.
   A percentage is compared as a fraction, to the precision the docs show it with.
3. The README's headline figures (everything before "## Using it": the first screen and "What it does") are all
   figure links.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RESULTS = ROOT / "docs" / "results"
NAMED = re.compile(r"docs/results/([\w.-]+\.json)")
FIGURE = re.compile(
    r"\[(?P<value>-?[0-9][0-9,.]*)(?P<pct>%?)\]\((?P<path>(?:docs/)?results/[\w.-]+\.json) "
    r'"(?P<spec>[^"]+)"\)'
)


def _figure_links() -> list[tuple[str, re.Match[str]]]:
    return [(doc.name, m) for doc in DOCS for m in FIGURE.finditer(doc.read_text(encoding="utf-8"))]


@cache
def _rows(name: str) -> list[dict[str, Any]]:
    data = json.loads((RESULTS / name).read_text(encoding="utf-8"))
    return data["rows"] if isinstance(data, dict) else data


@cache
def _advisor_eval() -> Any:
    spec = importlib.util.spec_from_file_location(
        "advisor_eval_for_docs", ROOT / "benchmarks" / "advisor_eval.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _audit_count(name: str) -> int:
    from finadvisor.advisor.audit import audit_answer

    data = ROOT / "finadvisor" / "data"
    return sum(
        bool(audit_answer(r["history"], r["response"], catalog=data / r.get("catalog", "catalog_demo.json")))
        for r in _rows(name)
        if r.get("ok") and isinstance(r.get("response"), dict)
    )


def value_of(name: str, spec: str) -> float:
    """What the results file ``name`` gives for ``spec`` (see the module docstring)."""
    if spec.startswith("score."):
        return float(_advisor_eval().score(_rows(name))[spec.removeprefix("score.")])
    if spec == "audit.answers_with_problems":
        return float(_audit_count(name))
    data: Any = json.loads((RESULTS / name).read_text(encoding="utf-8"))
    *selectors, path = spec.split()
    for selector in selectors:
        key, wanted = selector.split("=", 1)
        [data] = [r for r in data if str(r.get(key)) == wanted]
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return float(data)


def _shown(value: str, pct: str) -> tuple[float, float]:
    """The figure as a number (a fraction for a percentage) and half the last digit it shows."""
    digits = value.replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    half = 0.5 * 10**-decimals
    return (float(digits) / 100, half / 100) if pct else (float(digits), half)


def test_every_results_file_the_docs_name_exists() -> None:
    named = {(doc.name, m) for doc in DOCS for m in NAMED.findall(doc.read_text(encoding="utf-8"))}
    assert named, "the docs name no results file"
    missing = sorted((doc, name) for doc, name in named if not (RESULTS / name).is_file())
    assert not missing, missing


def test_the_readme_headline_figures_are_figure_links() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # the headline: the README's opening, up to the first how-to or reference section
    head = re.split(r"(?m)^## (?:Using it|Two commands|Figures)\b", readme)[0]
    links = FIGURE.findall(head)
    assert len(links) >= 3, "the README's headline figures must link their results files"
    # no bare percentage left in the headline: each is inside a figure link
    bare = re.findall(r"(?<![\[\d.])\d+(?:\.\d+)?%", FIGURE.sub("", head))
    assert not bare, bare


@pytest.mark.parametrize(
    ("doc", "match"), _figure_links(), ids=lambda x: x if isinstance(x, str) else x.group(0)
)
def test_each_figure_link_equals_its_results_file(doc: str, match: re.Match[str]) -> None:
    name = Path(match["path"]).name
    assert (RESULTS / name).is_file(), (doc, name)
    shown, half = _shown(match["value"], match["pct"])
    actual = value_of(name, match["spec"])
    assert abs(actual - shown) <= half + 1e-9, f"{doc}: {match.group(0)} but the file gives {actual}"
