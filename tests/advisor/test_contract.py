"""The output contract: a schema that fixes each item's service, parsing that never trusts, links stripped."""

from __future__ import annotations

import json

import pytest

from finadvisor.advisor.contract import explain_schema, is_vietnamese, parse_explanation, strip_links
from finadvisor.advisor.prompt import SYSTEM, build_messages, instructions
from finadvisor.advisor.ranker import Ranker
from finadvisor.history import SpendingHistory

NAMES = ["Ưu đãi ăn uống", "Thanh toán hóa đơn điện", "Số dư sinh lời"]
REASON = "Bạn chi 3.450.000 đ cho ăn uống, ưu đãi này giúp bạn tiết kiệm."


def out(reasons: list[tuple[str, str]]) -> str:
    return json.dumps(
        {"recommendations": [{"service": s, "recommendation": r} for s, r in reasons]}, ensure_ascii=False
    )


def test_the_schema_fixes_each_items_service_and_has_no_link() -> None:
    schema = explain_schema(NAMES)
    recs = schema["properties"]["recommendations"]
    assert [i["properties"]["service"] for i in recs["prefixItems"]] == [{"const": n} for n in NAMES]
    assert recs["minItems"] == recs["maxItems"] == 3
    assert "items" not in recs  # llama.cpp would take "items" and ignore the tuple
    assert all("link" not in i["properties"] for i in recs["prefixItems"])
    assert set(schema["properties"]) == {"recommendations"}  # the summary is computed, not generated


def test_reasons_are_matched_by_service_not_position() -> None:
    text = out([(NAMES[1], "Bạn đóng tiền điện 820.000 đ mỗi tháng."), (NAMES[0], REASON)])
    reasons, broken = parse_explanation(text, "stop", NAMES)
    assert broken is None and reasons == [REASON, "Bạn đóng tiền điện 820.000 đ mỗi tháng.", None]


def test_a_truncated_output_keeps_its_complete_strings() -> None:
    looped = (
        out([(NAMES[0], REASON)])[:-3]
        + ', {"service": "Thanh toán hóa đơn điện", "recommendation": "Bạn bạn bạn'
    )
    reasons, broken = parse_explanation(looped, "length", NAMES)
    assert broken is None and reasons == [REASON, None, None]


@pytest.mark.parametrize(
    ("text", "finish", "problem"),
    [
        (
            '{"recommendations": [{"service": "Ưu đãi ăn uống", "recommendation": "Bạn chi',
            "length",
            "truncated",
        ),
        (
            '{"recommendations": [{"service": "Ưu đãi ăn uống", "recommendation": "Bạn chi',
            "stop",
            "not valid JSON",
        ),
        ("[1, 2]", "stop", "expected object shape"),
    ],
)
def test_broken_output_is_reported_not_raised(text: str, finish: str, problem: str) -> None:
    reasons, broken = parse_explanation(text, finish, NAMES)
    assert reasons == [None, None, None] and broken and problem in broken


def test_unusable_texts_become_none() -> None:
    text = out([(NAMES[0], "This is an English reason."), (NAMES[1], "Ngắn")])
    reasons, _ = parse_explanation(text, "stop", NAMES[:2])
    assert reasons == [None, None]


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Bạn chi nhiều, hãy mở http://evil.example/phish ngay.", "evil"),
        ("Xem bit.ly/abc để nhận ưu đãi.", "bit.ly"),
        ("Vào example.com/x hoặc evil.vn nhé.", "example.com"),
        ("Mở lazycat://bill hoặc javascript:alert(1) ngay.", "alert"),
        ("Truy cập www.scam.test để nhận quà.", "scam"),
    ],
)
def test_anything_openable_is_stripped(text: str, gone: str) -> None:
    assert gone not in strip_links(text)


def test_ordinary_vietnamese_is_not_taken_for_a_domain() -> None:
    text = "Bạn sống ở TP.HCM, chi 1.350.000 đ, lãi khoảng 4%/năm, v.v."
    assert strip_links(text) == text


def test_vietnamese_detector() -> None:
    assert is_vietnamese("Bạn nên tiết kiệm nhiều hơn")
    assert not is_vietnamese("You should save more money")
    assert not is_vietnamese("您应该多存钱 và tiết kiệm")


def test_the_prompt_has_no_example_sentence_and_shows_the_evidence(demo_ranker: Ranker) -> None:
    history = SpendingHistory.model_validate(
        {
            "spending": [
                {"name": "Ăn uống", "amount": 3450000, "count": 42},
                {"name": "Học phí", "amount": 15000000, "count": 1},
            ]
        }
    )
    picks = demo_ranker.rank(history)
    messages = build_messages(history, picks, None)
    assert "tiền điện" not in SYSTEM and "ví dụ" not in SYSTEM.lower()  # the sentence the model used to copy
    user = messages[-1]["content"]
    assert 'khoản chi "Học phí" (81% tổng chi, 1 giao dịch)' in user and 'khoản chi "Ăn uống" (19%' in user
    assert "15.000.000" not in user and "3.450.000" not in user  # the advisor states the amounts itself
    for pick in picks:  # the model writes about the service from the catalog's own description
        assert f"{pick.service.service} - mô tả: {pick.service.description[:40]}" in user
    assert "Học phí" not in instructions(messages)  # the data is not part of what may not be copied
