"""The independent false-statement audit (advisor/audit.py): numbers traced to the history or the catalog."""

from __future__ import annotations

import pytest

from finadvisor.advisor.audit import audit_answer, read_figures
from finadvisor.catalog import demo_catalog_path, load_catalog
from tests.advisor.conftest import HISTORY

CATALOG = {s.service: s for s in load_catalog(demo_catalog_path(), ("*",))}
# HISTORY: income 18.000.000 đ; electricity 1.350.000 đ (1), top-ups 200.000 đ (2), food 3.450.000 đ (42):
# 5.000.000 đ spent, 13.000.000 đ left (72% of income); food is 69% of spending, electricity 27%, top-ups 4%.


def answer(summary: str, *reasons: tuple[str, str]) -> dict:
    return {
        "summarization": summary,
        "recommendations": [
            {"service": name, "link": CATALOG[name].link, "recommendation": text} for name, text in reasons
        ],
    }


TRUE_SUMMARY = (
    "Tháng này bạn chi 5.000.000 đ và thu 18.000.000 đ. Chi nhiều nhất cho Ăn uống (3.450.000 đ, 69%) "
    "và Hóa đơn điện (1.350.000 đ, 27%). Bạn để dành được 72% thu nhập."
)
TRUE_FOOD = (
    "Ưu đãi ăn uống",
    "Tháng này bạn chi 3.450.000 đ cho Ăn uống qua 42 giao dịch (69% tổng chi). "
    "Ưu đãi ăn uống: thanh toán tại nhà hàng với voucher giảm giá.",
)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("bạn chi 1.250.000 đ", "money", 1_250_000),
        ("khoảng 1,2 triệu mỗi tháng", "money", 1_200_000),
        ("500 nghìn đồng", "money", 500_000),
        ("3 tỷ", "money", 3e9),
        ("3.450.000 cho ăn uống", "money", 3_450_000),  # a grouped number is money even without "đ"
        ("(12% tổng chi)", "percent", 12),
        ("lãi 4,5%/năm", "percent", 4.5),
        ("chiếm dưới 1% tổng chi", "under-percent", 1),
        ("5 lần", "count", 5),
        ("qua 42 giao dịch", "count", 42),
        ("trong 2 giờ", "bare", 2),
    ],
)
def test_vietnamese_number_formats(text: str, kind: str, value: float) -> None:
    [figure] = list(read_figures(text))
    assert (figure.kind, figure.value) == (kind, pytest.approx(value))


def test_identifiers_are_not_figures() -> None:
    assert list(read_figures("Gói data 4G/5G, chuyển P2P, lớp K12")) == []


def test_a_true_answer_has_no_problem() -> None:
    savings = (
        "Số dư sinh lời",
        "Tháng này bạn thu 18.000.000 đ, chi 5.000.000 đ và còn dư 13.000.000 đ "
        "(72% thu nhập). Số dư sinh lời: tiền nhàn rỗi sinh lời với lãi suất khoảng 4%/năm.",
    )
    assert audit_answer(HISTORY, answer(TRUE_SUMMARY, TRUE_FOOD, savings)) == []


@pytest.mark.parametrize(
    ("summary", "needle"),
    [
        ("Bạn chi 15.000.000 đ tiền điện mỗi tháng.", "15.000.000 đ"),  # the production failure of issue 13
        ("Ăn uống chiếm 45% tổng chi.", "45%"),
        ("Bạn đã thanh toán 17 lần cho ăn uống.", "17"),
        ("Tiền điện khoảng 2,5 triệu.", "2,5 triệu"),
        ("Bạn còn dư 9.000.000 đ.", "9.000.000 đ"),
        ("Nạp tiền điện thoại chiếm dưới 1% tổng chi.", "1%"),  # the smallest true share is 4%
    ],
)
def test_an_untraceable_number_is_a_problem(summary: str, needle: str) -> None:
    problems = audit_answer(HISTORY, answer(summary, TRUE_FOOD))
    assert len(problems) == 1 and needle in problems[0] and problems[0].startswith("summary:"), problems


def test_rounded_amounts_pass_within_their_written_precision() -> None:
    assert audit_answer(HISTORY, answer("Ăn uống khoảng 3,5 triệu, tiền điện 1,4 triệu.", TRUE_FOOD)) == []
    assert audit_answer(HISTORY, answer("Ăn uống khoảng 2,9 triệu.", TRUE_FOOD)) != []


def test_under_one_percent_needs_a_true_share_under_one_percent() -> None:
    history = {
        "spending": [
            {"name": "Ăn uống", "amount": 9_950_000, "count": 30},
            {"name": "Gửi xe", "amount": 50_000, "count": 2},
        ]
    }
    assert (
        audit_answer(
            history,
            answer(
                "Gửi xe chiếm dưới 1% tổng chi.",
                TRUE_FOOD[:1]
                + ("Tháng này bạn chi 9.950.000 đ cho Ăn uống qua 30 giao dịch (99% tổng chi).",),
            ),
        )
        == []
    )


def test_catalog_figures_only_of_the_recommended_services() -> None:
    # "kỳ hạn từ 1 đến 36 tháng" is the term deposit's catalog figure; no line of the history gives 36
    term = "Gửi kỳ hạn 36 tháng nhé."
    assert audit_answer(HISTORY, answer("", ("Tiết kiệm có kỳ hạn", term))) == []
    assert "'36'" in audit_answer(HISTORY, answer("", ("Ưu đãi ăn uống", term)))[0]


def test_numbers_inside_category_names_are_not_claims() -> None:
    history = {
        "spending": [
            {"name": "Học phí lớp 12A", "amount": 3_000_000, "count": 1},
            {"name": "Ăn uống", "amount": 1_000_000, "count": 20},
        ]
    }
    text = "Tháng này bạn chi 3.000.000 đ cho Học phí lớp 12A qua 1 giao dịch (75% tổng chi)."
    assert audit_answer(history, answer("", ("Đóng học phí", text))) == []


def test_links_must_be_the_catalogs_under_the_services_own_name() -> None:
    bad = answer("", TRUE_FOOD)
    bad["recommendations"][0]["link"] = "https://scam.example.vn/vay"
    assert audit_answer(HISTORY, bad) == ["link not in the catalog: 'https://scam.example.vn/vay'"]
    swapped = answer("", TRUE_FOOD)
    swapped["recommendations"][0]["link"] = CATALOG["Vay tiêu dùng nhanh"].link
    assert "is 'Vay tiêu dùng nhanh' in the catalog" in audit_answer(HISTORY, swapped)[0]


def test_another_catalog_by_path_or_services() -> None:
    from pathlib import Path

    lazycat = Path(demo_catalog_path()).parent / "catalog_lazycat.json"
    services = load_catalog(lazycat, ("*",))
    rec = {
        "service": services[0].service,
        "link": services[0].link,
        "recommendation": "Tháng này bạn chi 200.000 đ.",
    }
    ans = {"summarization": "", "recommendations": [rec]}
    assert audit_answer(HISTORY, ans, catalog=lazycat) == audit_answer(HISTORY, ans, catalog=services) == []
    assert audit_answer(HISTORY, ans)[0].startswith("link not in the catalog")  # not a demo-catalog link


async def test_what_the_advisor_serves_passes_the_audit(make_client) -> None:
    async for c in make_client():
        body = (await c.post("/api/recommendations", json={"history": HISTORY})).json()
        assert audit_answer(HISTORY, body) == [], body
