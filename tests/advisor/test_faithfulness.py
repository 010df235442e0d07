"""The faithfulness check: amounts beside their own category, no absent topics, citations, no prompt copies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finadvisor.advisor.category_map import load_category_map
from finadvisor.advisor.evidence import Evidence, Facts, Pick
from finadvisor.advisor.faithfulness import Checker, template_reason, topics
from finadvisor.advisor.prompt import SYSTEM
from finadvisor.advisor.ranker import Ranker
from finadvisor.advisor.summary import compose_summary, facts_summary
from finadvisor.catalog import CatalogIndex, HashEmbedder, Service, demo_catalog_path, load_catalog
from finadvisor.history import SpendingHistory

DATA = Path(__file__).resolve().parents[2] / "finadvisor" / "data"
FOOD = Service(service="Ưu đãi ăn uống", link="https://x.vn/an", description="Voucher giảm 20% tại quán ăn.")
SCHOOL = {"earning": [{"name": "Lương", "amount": 20000000, "count": 1}],
          "spending": [{"name": "Học phí", "amount": 15000000, "count": 1},
                       {"name": "Ăn uống", "amount": 3450000, "count": 42}]}


def _checker(history: dict = SCHOOL, picks: list[Pick] | None = None) -> Checker:
    return Checker(Facts.of(SpendingHistory.model_validate(history)), picks or [], SYSTEM)


@pytest.mark.parametrize(("sentence", "needle"), [
    ("Bạn chi 15.000.000 đ tiền điện mỗi tháng.", "not next to its own category"),
    ("Bạn chi 3.450.000 đ cho học phí tháng này.", "not next to its own category"),
    ("Bạn chi 1.350.000 đ cho ăn uống.", "not in the history"),
    ("Bạn đóng tiền điện đúng hạn mỗi tháng nhé.", "speaks of electricity"),
    ("Hãy đi chợ online để tiết kiệm hơn.", "speaks of groceries"),
    ("Ăn uống chiếm 55% tổng chi của bạn.", "percentage 55%"),
    ("Bạn chi 3,5 triệu cho học phí.", "not next to its own category"),
    ("You spent a lot on food this month.", "not Vietnamese"),
    ("The user has two categories of expenses: Học phí and Ăn uống.", "not Vietnamese"),
    ("Bạn chi $3.450.000 cho ăn uống tháng này.", "another currency"),
    ("Chỉ dùng số tiền có trong DỮ LIỆU và luôn đặt số tiền cạnh đúng tên khoản chi của nó.",
     "copied from the prompt"),
    ("Ăn uống: bạn hãy nhắc tên và số tiền khoản chi của chính dịch vụ đó nhé.", "copied from the prompt"),
    ("Dưới đây là thông tin chi tiết cho từng dịch vụ của bạn:", "not a sentence"),
    ("2. Số dư sinh lời - Lý do: thu nhập 20.000.000 đ của bạn", "not a sentence"),
    ("Học phí của bạn tháng này là khoản chi", "not a sentence"),
])
def test_false_sentences_are_caught(sentence: str, needle: str) -> None:
    problems = _checker().sentence_problems(sentence, FOOD)
    assert any(needle in p for p in problems), problems


@pytest.mark.parametrize("sentence", [
    "Bạn chi 15.000.000 đ cho học phí, khoản lớn nhất tháng này.",
    "Tháng này bạn chi tổng cộng 18.450.000 đ và thu 20.000.000 đ.",
    "Bạn chi 3,45 triệu cho ăn uống qua 42 giao dịch.",
    "Ăn uống chiếm 19% tổng chi; voucher giảm 20% giúp bạn tiết kiệm.",  # 20%: the service's own text
    "Thu nhập 20.000.000 đ từ lương giúp bạn chủ động hơn.",
])
def test_true_sentences_pass(sentence: str) -> None:
    assert _checker().sentence_problems(sentence, FOOD) == []


def test_phone_top_up_is_not_an_electricity_bill() -> None:
    assert topics("Nạp tiền điện thoại và ví điện tử") == {"phone"}
    assert topics("Hóa đơn điện tháng 5") == {"electricity"}
    assert topics("du lịch") == {"travel"} and topics("đặt lịch khám") == set()


def test_a_reason_must_cite_the_users_spending() -> None:
    checker = _checker()
    pick = Pick(FOOD, 1.0, "map", [Evidence("category", Facts.of(SpendingHistory.model_validate(SCHOOL))
                                            .categories[1])])
    generic = checker.check_reason("Dịch vụ này giúp bạn quản lý tài chính tốt hơn.", pick)
    assert generic.template and generic.generic
    assert generic.text == template_reason(pick, checker.facts)
    good = checker.check_reason("Bạn chi 3.450.000 đ cho ăn uống, ưu đãi này giúp bạn tiết kiệm.", pick)
    assert not good.template and not good.generic and good.raw_problems == []
    mixed = checker.check_reason("Bạn chi 3.450.000 đ cho ăn uống. Tiền điện của bạn 15.000.000 đ.", pick)
    assert mixed.text == "Bạn chi 3.450.000 đ cho ăn uống." and not mixed.template and mixed.raw_problems


def _histories() -> list[tuple[str, dict]]:
    rows = []
    for name in ("eval_retrieval.json", "eval_advisor_adversarial.json", "eval_advisor_heldout.json"):
        data = json.loads((DATA / name).read_text())
        rows += [(name, i["history"]) for i in (data["items"] if isinstance(data, dict) else data)
                 if "history" in i and (i.get("catalog") in (None, "catalog_demo.json"))]
    return rows


def test_templates_and_facts_summary_are_always_true() -> None:
    """The fallback must pass the same check, for every labelled history (dev and held-out alike)."""
    index = CatalogIndex.build(load_catalog(demo_catalog_path()), HashEmbedder())
    ranker = Ranker(index, load_category_map())
    for _, raw in _histories():
        history = SpendingHistory.model_validate(raw)
        picks = ranker.rank(history)
        facts = Facts.of(history)
        checker = Checker(facts, picks, SYSTEM)
        for pick in picks:
            text = template_reason(pick, facts)
            verdict = checker.check_reason(text, pick)
            assert verdict.raw_problems == [] and not verdict.template, (raw, text, verdict.raw_problems)
        summary = facts_summary(facts)
        assert checker.check_insight(summary)[1] == [], summary
        assert compose_summary(facts, None) == summary
