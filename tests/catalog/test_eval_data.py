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
