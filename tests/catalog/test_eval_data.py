"""Every labelled eval set stays consistent with the catalog it is scored on (a label that is not a link of that
catalog can never match: it silently scores 0, as adv04 and adv05 did with two links no catalog had)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finadvisor.catalog import demo_catalog_path, load_catalog
from finadvisor.history import SpendingHistory

DATA = Path(demo_catalog_path()).parent
EVAL_FILES = sorted(p.name for p in DATA.glob("eval_*.json"))
DEMO = "catalog_demo.json"  # what the benchmarks score an item on when it names no catalog
LINK_FIELDS = ("relevant", "in_use", "further_use")  # every label that names a service by its link


def _items(name: str) -> list[dict]:
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data["items"] if isinstance(data, dict) else data


def _links(catalog: str, cache: dict[str, set[str]] = {}) -> set[str]:  # noqa: B006 - a deliberate memo
    if catalog not in cache:  # loaded as the benchmarks load it: any link scheme
        cache[catalog] = {s.link for s in load_catalog(DATA / catalog, ("*",))}
    return cache[catalog]


def test_the_guard_sees_every_eval_file() -> None:
    assert len(EVAL_FILES) >= 10 and "eval_advisor_adversarial.json" in EVAL_FILES


@pytest.mark.parametrize("name", EVAL_FILES)
def test_every_label_is_a_link_of_the_catalog_its_item_is_scored_on(name: str) -> None:
    items = _items(name)
    assert items and len({i["id"] for i in items}) == len(items), name
    for item in items:
        catalog = item.get("catalog", DEMO)
        assert (DATA / catalog).is_file(), (item["id"], catalog)
        relevant = item["relevant"]  # may be empty where a set labels "abstain: nothing fits"
        assert len(set(relevant)) == len(relevant), item["id"]
        for field in LINK_FIELDS:
            missing = set(item.get(field, [])) - _links(catalog)
            assert not missing, f"{name} {item['id']} {field}: {sorted(missing)} are not links of {catalog}"
        assert ("history" in item) != ("query" in item), item["id"]
        if "history" in item:
            assert (
                SpendingHistory.model_validate(item["history"]).spending
                or SpendingHistory.model_validate(item["history"]).earning
            ), item["id"]


def test_adversarial_labels_are_the_careful_advisors_links() -> None:
    by_id = {i["id"]: set(i["relevant"]) for i in _items("eval_advisor_adversarial.json")}
    # shopping: cashback on it and a budget; electronic top-ups: the top-up, a data plan and scratch cards
    assert {
        "finadvisor://service/hoan-tien-mua-sam",
        "https://finadvisor.vn/dich-vu/quan-ly-chi-tieu",
    } <= by_id["adv04"]
    assert {"https://finadvisor.vn/dich-vu/nap-tien-dien-thoai", "finadvisor://service/goi-data"} <= by_id[
        "adv05"
    ]


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
    styles = {
        i["style"].split("-", 1)[-1] if i["style"].startswith("lazycat-") else i["style"] for i in items
    }
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
