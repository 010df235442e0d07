"""schema.org FAQPage pages: JSON-LD and microdata read first, layout heuristics for the rest, the page wins a
disagreement with JSON-LD (docs/DATASET.md, "Structured data")."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from finadvisor.dataset.build import build_dataset
from finadvisor.dataset.html_faq import agrees
from finadvisor.dataset.sources import Document, get_source


def parse(path: Path) -> tuple[list, Counter]:
    skips: Counter = Counter()
    items = list(get_source("html").parse(Document(str(path), path), skips))
    return items, skips


def test_a_page_whose_faq_lives_only_in_json_ld(fixtures: Path):
    """A JavaScript-rendered page: the visible body holds nothing, the <script> holds every question."""
    items, skips = parse(fixtures / "faq_jsonld_only.html")
    assert [(i.question, i.answer) for i in items] == [
        (
            "Phí chuyển tiền liên ngân hàng là bao nhiêu?",
            "Miễn phí 5 lần mỗi tháng.\nTừ lần thứ 6, phí là 1.100 đ mỗi lần.",
        ),
        (
            "Tôi có thể liên kết bao nhiêu thẻ?",
            "Tối đa 3 thẻ ngân hàng cho một ví.",
        ),  # first non-empty answer
        ("Ví có hỗ trợ trả góp không?", "Có, với đơn hàng từ 3 triệu đồng."),  # suggestedAnswer
    ]
    assert {i.component for i in items} == {"faq.jsonld"}
    assert [i.ref for i in items] == ["jsonld question 1", "jsonld question 2", "jsonld question 3"]
    assert items[0].category == "Câu hỏi thường gặp – Ví Mẫu"
    # the broken second block and the question without an answer are counted, not fatal
    assert skips == Counter({"html:jsonld_invalid": 1, "html:jsonld_question_without_answer": 1})


def test_json_ld_and_visible_text_on_one_page(fixtures: Path):
    items, skips = parse(fixtures / "faq_jsonld_and_page.html")
    by_q = {i.question: i for i in items}
    assert list(by_q) == [
        "Làm sao để mở ví?",
        "Phí rút tiền là bao nhiêu?",
        "Ví Mẫu có ứng dụng cho máy tính không?",
        "Hạn mức nạp tiền mỗi ngày là bao nhiêu?",
    ]
    # agreement: JSON-LD's exact answer, without the "was this helpful?" line the layout heuristics swept in
    opened = by_q["Làm sao để mở ví?"]
    assert opened.component == "faq.jsonld"
    assert opened.answer == "Tải ứng dụng Ví Mẫu, đăng ký bằng số điện thoại và xác thực OTP."
    # disagreement (3.300đ in the markup, 2.000đ on the page): the visible text wins, and it is counted
    fee = by_q["Phí rút tiền là bao nhiêu?"]
    assert fee.component == "faq.html" and "2.000đ" in fee.answer and "3.300" not in fee.answer
    assert fee.ref == "question 2"
    assert skips == Counter({"html:jsonld_disagrees_with_page": 1})
    # only in JSON-LD / only on the page: both kept
    assert by_q["Ví Mẫu có ứng dụng cho máy tính không?"].component == "faq.jsonld"
    assert by_q["Hạn mức nạp tiền mỗi ngày là bao nhiêu?"].answer == "- Tối đa 20 triệu đồng mỗi ngày."


def test_microdata_gives_exact_boundaries_and_ignores_nested_items_props(fixtures: Path):
    items, skips = parse(fixtures / "faq_microdata.html")
    assert [(i.question, i.answer, i.component) for i in items] == [
        (
            "Phí phát hành thẻ ảo",
            "Miễn phí phát hành.\n- Phí thường niên: 0đ.\n- Phí giao dịch ngoại tệ: 2,5%.",
            "faq.microdata",
        ),
        # the question's name comes from <meta content>, not from the Answer item's own itemprop=name
        ("Khoá thẻ thế nào?", "Vào Thẻ, chọn Khoá thẻ và xác nhận bằng mã PIN.", "faq.microdata"),
    ]
    assert skips == Counter({"html:microdata_question_without_answer": 1, "html:question_without_answer": 1})


def test_pages_without_structured_data_are_read_as_before(fixtures: Path):
    items, skips = parse(fixtures / "faq_page.html")
    assert len(items) == 4 and {i.component for i in items} == {"faq.html"}
    assert skips == Counter({"html:question_without_answer": 1})


def test_agreement_rule():
    same = "Rút tiền miễn phí 3 lần mỗi tháng. Từ lần thứ 4, phí là 2.000đ mỗi lần."
    assert agrees(same, same + "\nBạn thấy câu trả lời này hữu ích không?")  # page adds a line: same answer
    assert agrees(same + " Áp dụng cho mọi ví.", same)  # markup adds a sentence
    assert not agrees(same, same.replace("2.000", "3.300"))  # a number differs
    assert not agrees(same, "Liên hệ tổng đài để biết thêm chi tiết về phí.")  # another answer


def test_build_over_structured_pages_reports_the_disagreement(fixtures: Path, tmp_path: Path):
    out = tmp_path / "faq.jsonl"
    report = build_dataset(
        [
            str(fixtures / "faq_jsonld_only.html"),
            str(fixtures / "faq_jsonld_and_page.html"),
            str(fixtures / "faq_microdata.html"),
        ],
        out,
    ).to_dict()
    assert report["kept"] == 3 + 4 + 2
    assert report["skipped_in_sources"]["html:jsonld_disagrees_with_page"] == 1
