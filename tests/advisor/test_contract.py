"""The output contract: parse, validate, take links from the catalog, reject anything else."""

from __future__ import annotations

import json

import pytest

from finadvisor.advisor.contract import OutputInvalid, is_vietnamese, parse_output, response_schema
from finadvisor.catalog import Service

CANDIDATES = [Service(service="Tiết kiệm online", link="https://finadvisor.vn/dich-vu/tiet-kiem", description="d"),
              Service(service="Thanh toán hóa đơn điện", link="https://finadvisor.vn/dich-vu/dien", description="d"),
              Service(service="Bảo hiểm sức khỏe", link="finadvisor://service/bh", description="d")]
REASON = "Bạn chi nhiều cho tiền điện, hãy bật thanh toán tự động."


def out(services: list[str], summary: str = "Tháng này bạn chi tiêu khá nhiều cho hóa đơn.", **extra) -> str:
    return json.dumps({"summarization": summary, "recommendations": [
        {"service": s, "recommendation": REASON, **extra} for s in services]}, ensure_ascii=False)


def test_links_come_from_catalog_not_model() -> None:
    text = out(["Tiết kiệm online", "Bảo hiểm sức khỏe"], link="http://evil.example")
    resp = parse_output(text, "stop", CANDIDATES)
    assert [r.link for r in resp.recommendations] == ["https://finadvisor.vn/dich-vu/tiet-kiem",
                                                      "finadvisor://service/bh"]


def test_urls_in_free_text_are_removed() -> None:
    text = out(["Tiết kiệm online", "Bảo hiểm sức khỏe"],
               summary="Bạn chi nhiều, hãy mở http://evil.example/phish ngay để nhận quà tặng.")
    resp = parse_output(text, "stop", CANDIDATES)
    assert "evil" not in resp.summarization and "http" not in resp.summarization


@pytest.mark.parametrize(("text", "finish", "reason"), [
    (out(["Tiết kiệm online", "Bảo hiểm sức khỏe"]), "length", "truncated"),
    ('{"summarization": "Bạn chi', "stop", "not valid JSON"),
    (out(["Tiết kiệm online", "Vay tiền nhanh"]), "stop", "outside the candidates"),
    (out(["Tiết kiệm online", "Tiết kiệm online"]), "stop", "1 usable distinct services"),
    (out(["Tiết kiệm online", "Bảo hiểm sức khỏe"], summary="x"), "stop", "summarization is too short"),
    (out(["Tiết kiệm online", "Bảo hiểm sức khỏe"], summary="You spent a lot on bills this month."), "stop",
     "not in Vietnamese"),
    ('[1, 2]', "stop", "expected object shape"),
])
def test_contract_violations_are_rejected(text: str, finish: str, reason: str) -> None:
    with pytest.raises(OutputInvalid, match=reason):
        parse_output(text, finish, CANDIDATES)


def test_schema_enum_is_exactly_the_candidates() -> None:
    schema = response_schema(CANDIDATES)
    item = schema["properties"]["recommendations"]["items"]
    assert item["properties"]["service"]["enum"] == [c.service for c in CANDIDATES]
    assert "link" not in item["properties"]
    assert schema["properties"]["recommendations"]["minItems"] == 2
    assert schema["properties"]["recommendations"]["maxItems"] == 3


def test_vietnamese_detector() -> None:
    assert is_vietnamese("Bạn nên tiết kiệm nhiều hơn")
    assert not is_vietnamese("You should save more money")
    assert not is_vietnamese("您应该多存钱 và tiết kiệm")


def test_unusable_summary_falls_back_to_facts_and_bad_reasons_are_dropped() -> None:
    text = json.dumps({"summarization": "", "recommendations": [
        {"service": "Tiết kiệm online", "recommendation": "This is an English reason, not usable."},
        {"service": "Bảo hiểm sức khỏe", "recommendation": REASON},
        {"service": "Thanh toán hóa đơn điện", "recommendation": REASON}]}, ensure_ascii=False)
    resp = parse_output(text, "stop", CANDIDATES, fallback_summary="Tháng này bạn chi tổng cộng 1.000 đ.")
    assert resp.summarization == "Tháng này bạn chi tổng cộng 1.000 đ."
    assert [r.service for r in resp.recommendations] == ["Bảo hiểm sức khỏe", "Thanh toán hóa đơn điện"]


def test_factual_summary_uses_the_figures() -> None:
    from finadvisor.advisor.prompt import factual_summary
    from finadvisor.history import SpendingHistory

    history = SpendingHistory.model_validate({"spending": [{"name": "Ăn uống", "amount": "3.450.000"},
                                                           {"name": "Điện", "amount": 1350000},
                                                           {"name": "Khác", "amount": 200000}]})
    assert factual_summary(history) == ("Tháng này bạn chi tổng cộng 5.000.000 đ, nhiều nhất cho "
                                        "Ăn uống (3.450.000 đ), Điện (1.350.000 đ).")


def test_hallucinated_amounts_in_the_summary_are_replaced_by_facts() -> None:
    from finadvisor.advisor.prompt import factual_summary, history_numbers
    from finadvisor.history import SpendingHistory

    history = SpendingHistory.model_validate({"spending": [{"name": "Xăng xe", "amount": 2600000, "count": 20},
                                                           {"name": "Ăn uống", "amount": 1900000, "count": 48}]})
    facts = factual_summary(history)

    def summary_of(text: str) -> str:
        raw = json.dumps({"summarization": text, "recommendations": [
            {"service": "Tiết kiệm online", "recommendation": REASON},
            {"service": "Bảo hiểm sức khỏe", "recommendation": REASON}]}, ensure_ascii=False)
        return parse_output(raw, "stop", CANDIDATES, facts, history_numbers(history)).summarization

    assert summary_of("Tổng chi tiêu tháng này là 19.100.000 đ, khá cao.") == facts  # made-up total
    grounded = "Bạn chi 2.600.000 đ cho xăng xe, tổng cộng 4.500.000 đ trong tháng."
    assert summary_of(grounded) == grounded


def test_invented_amounts_are_taken_out_of_reasons() -> None:
    from finadvisor.advisor.prompt import history_numbers
    from finadvisor.history import SpendingHistory

    history = SpendingHistory.model_validate({"spending": [{"name": "Ăn uống", "amount": 3150000, "count": 41}]})
    food = Service(service="Ưu đãi ăn uống", link="https://finadvisor.vn/dich-vu/an-uong",
                   description="Giảm đến 50.000 đ cho mỗi đơn đồ ăn tại quán đối tác.")
    power = Service(service="Thanh toán hóa đơn điện", link="https://finadvisor.vn/dich-vu/dien",
                    description="Thanh toán tiền điện tự động, không lo trễ hạn.")
    reasons = {
        # an invented figure in one sentence: that sentence goes, the rest stays
        food.service: "Bạn chi 3.150.000 đ cho ăn uống. Bạn chi 1.350.000 đ tiền điện mỗi tháng. Dùng ưu đãi để "
                      "giảm đến 50.000 đ mỗi đơn.",
        # nothing grounded left: the catalog's own description stands in
        power.service: "Tiết kiệm 2.000.000 đ mỗi tháng khi thanh toán tự động.",
    }
    raw = json.dumps({"summarization": "Tháng này bạn chi nhiều nhất cho ăn uống.", "recommendations": [
        {"service": name, "recommendation": text} for name, text in reasons.items()]}, ensure_ascii=False)
    recs = parse_output(raw, "stop", [food, power], None, history_numbers(history)).recommendations
    assert recs[0].recommendation == "Bạn chi 3.150.000 đ cho ăn uống. Dùng ưu đãi để giảm đến 50.000 đ mỗi đơn."
    assert recs[1].recommendation == power.description
    # without the history's figures (no check requested) the text is left alone
    unchecked = parse_output(raw, "stop", [food, power]).recommendations
    assert unchecked[1].recommendation == reasons[power.service]


def test_an_unusable_reason_is_replaced_by_the_catalog_description() -> None:
    gift = Service(service="Lì xì và quà tặng", link="https://finadvisor.vn/dich-vu/li-xi",
                   description="Gửi lì xì, quà tặng điện tử cho người thân trong dịp lễ Tết.")
    text = json.dumps({"summarization": "Tháng này bạn chi nhiều cho quà biếu.", "recommendations": [
        {"service": gift.service, "recommendation": "Send lucky money to your family."},
        {"service": "Tiết kiệm online", "recommendation": "Too short"}]}, ensure_ascii=False)
    with pytest.raises(OutputInvalid):  # the second description ("d") is unusable too: only one item is left
        parse_output(text, "stop", [gift, *CANDIDATES])
    resp = parse_output(text.replace("Too short", REASON), "stop", [gift, *CANDIDATES])
    assert [r.recommendation for r in resp.recommendations] == [gift.description, REASON]
