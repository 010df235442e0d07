"""The labelled retrieval sets stay consistent with the demo catalog (a renamed link would silently score 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finadvisor.catalog import demo_catalog_path, load_catalog
from finadvisor.history import SpendingHistory

DATA = Path(demo_catalog_path()).parent


@pytest.mark.parametrize("name", ["eval_retrieval.json", "eval_retrieval_heldout.json"])
def test_eval_set_labels_exist_in_the_catalog(name: str) -> None:
    links = {s.link for s in load_catalog(demo_catalog_path())}
    items = json.loads((DATA / name).read_text(encoding="utf-8"))
    assert len(items) >= 40
    assert len({i["id"] for i in items}) == len(items)
    for item in items:
        assert 1 <= len(item["relevant"]) <= 5 and set(item["relevant"]) <= links, item["id"]
        assert ("history" in item) != ("query" in item), item["id"]
        if "history" in item:
            assert SpendingHistory.model_validate(item["history"]).spending, item["id"]


def test_advisor_heldout_set_covers_the_styles_and_two_catalogs() -> None:
    data = json.loads((DATA / "eval_advisor_heldout.json").read_text(encoding="utf-8"))
    items = data["items"]
    assert len(items) >= 40 and len({i["id"] for i in items}) == len(items)
    styles = {i["style"].split("-", 1)[-1] if i["style"].startswith("lazycat-") else i["style"] for i in items}
    assert {"english", "merchant", "no-diacritics", "one-category", "high-earner", "debt"} <= styles
    catalogs: dict[str, set[str]] = {}
    for item in items:
        name = item.get("catalog", "catalog_demo.json")
        if name not in catalogs:
            catalogs[name] = {s.link for s in load_catalog(DATA / name)}
        assert set(item["relevant"]) <= catalogs[name], item["id"]
        assert SpendingHistory.model_validate(item["history"]).spending, item["id"]
    assert sum(i.get("catalog") == "catalog_lazycat.json" for i in items) >= 10
    assert all(link.startswith("lazycat://") for link in catalogs["catalog_lazycat.json"])  # a custom scheme
