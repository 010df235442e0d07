"""Parsers on hand-written fixtures: what comes out, and what is skipped and counted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from finadvisor.dataset.sources import Document, detect_type, get_source
from finadvisor.dataset.text import clean_field, html_to_text, normalize
from finadvisor.errors import ConfigError


def parse(path: Path, kind: str) -> tuple[list, Counter]:
    skips: Counter = Counter()
    items = list(get_source(kind).parse(Document(str(path), path), skips))
    return items, skips


def test_html_to_text_handles_entities_br_lists_and_nesting():
    html = "<p>Phí&nbsp;2.000&#273; &amp; <b>miễn <i>phí</i></b><br>dòng hai</p><ul><li>một<ul><li>hai</li></ul></li></ul>"
    assert clean_field(html) == "Phí 2.000đ & miễn phí\ndòng hai\n- một\n- hai"
    assert html_to_text("không có thẻ") == "không có thẻ"
    assert clean_field("<script>alert(1)</script><p>x</p>") == "x"


def test_normalize_composes_vietnamese_and_collapses_whitespace():
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Tiếng  Việt\t có dấu")
    assert len(decomposed) > len("Tiếng Việt có dấu")
    assert normalize(decomposed) == "Tiếng Việt có dấu"
    assert normalize(" a \n\n\n b ") == "a\nb"


def test_html_faq_page(fixtures):
    items, skips = parse(fixtures / "faq_page.html", "html")
    by_q = {i.question: i for i in items}
    assert list(by_q) == [
        "Làm sao để mở ví?",
        "Phí rút tiền là bao nhiêu?",
        "Tôi quên mã PIN thì sao?",
        "Hạn mức nạp tiền mỗi ngày là bao nhiêu?",
    ]
    first = by_q["Làm sao để mở ví?"].answer
    # a numbered step without "?" stays inside the answer; bullets keep their structure; entities are decoded
    assert "1. Mở ứng dụng" in first
    assert "- Nhập số điện thoại & mã OTP." in first
    assert (
        by_q["Phí rút tiền là bao nhiêu?"].answer
        == "Rút tiền miễn phí 3 lần mỗi tháng.\nTừ lần thứ 4, phí là 2.000đ mỗi lần."
    )
    assert (
        by_q["Hạn mức nạp tiền mỗi ngày là bao nhiêu?"].answer
        == "- Tối đa 20 triệu đồng mỗi ngày.\n- Tối thiểu 10.000đ mỗi lần."
    )
    assert by_q["Tôi quên mã PIN thì sao?"].ref == "question 3"
    # question 4 has no answer (a section heading follows); nav, script and footer never become questions
    assert skips == Counter({"html:question_without_answer": 1})
    assert all("Đoạn này" not in i.answer for i in items)
    assert items[0].category == "Hỏi đáp – Ví Mẫu"


def test_nextjs_faq_articles_with_html_and_bad_entries(fixtures):
    items, skips = parse(fixtures / "nextjs_faq.json", "nextjs")
    assert [i.ref for i in items] == [
        "articles[0]",
        "articles[1]",
        "articles[4]",
        "articles[5]",
        "articles[6]",
    ]
    assert items[0].category == "chung" and items[1].category == "phi"
    assert items[0].component == "faq.article"
    assert skips == Counter(
        {"missing_key:description_text": 1, "nextjs:not_an_object": 1, "not_text:description_text": 1}
    )


def test_nextjs_feature_components_follow_get_features(fixtures):
    items, skips = parse(fixtures / "nextjs_features.json", "nextjs")
    pairs = {i.question: (i.answer, i.component) for i in items}
    assert pairs["Tích điểm Mẫu"][1] == "shared.promote-points"
    assert pairs["Ngân hàng liên kết"][1] == "shared.bank-list"
    assert pairs["Ngân hàng Thử Một"][0].startswith(
        "Bạn có thể liên kết tài khoản hoặc thẻ của Ngân hàng Thử Một"
    )
    assert pairs["Ngân hàng Thử Hai"][0] == "Nạp tiền từ Ngân hàng Thử Hai tối đa 5 triệu đồng mỗi lần."
    assert {
        "Chuyển tiền nhanh",
        "Bảo mật",
        "Hóa đơn điện",
        "Cà phê Thử",
        "Nạp tiền điện thoại",
    } <= pairs.keys()
    assert "Thiếu mô tả" not in pairs
    assert skips == Counter(
        {
            "unknown_component:shared.hero-banner": 1,
            "missing_key:bank": 1,
            "missing_key:description": 1,
            "missing_key:merchant": 1,
            "missing_key:__component": 1,
            "nextjs:not_an_object": 1,
        }
    )


def test_jsonl_accepts_seed_question_and_chatml_records(fixtures):
    items, skips = parse(fixtures / "pairs.jsonl", "jsonl")
    assert [i.ref for i in items] == ["line 1", "line 3", "line 4"]
    assert items[2].source == "https://vi-mau.example/hoi-dap"
    assert items[0].source.endswith("pairs.jsonl")
    assert skips == Counter({"jsonl:no_question_answer": 1, "jsonl:not_an_object": 1})


def test_invalid_jsonl_names_the_line(fixtures):
    with pytest.raises(ConfigError, match=r"bad_line\.jsonl:3: invalid JSON"):
        parse(fixtures / "bad_line.jsonl", "jsonl")


def test_invalid_json_document_names_line_and_column(fixtures):
    with pytest.raises(ConfigError, match=r"broken\.json: invalid JSON at line 3, column 13"):
        parse(fixtures / "broken.json", "nextjs")


def test_json_without_pageprops_is_refused(fixtures):
    with pytest.raises(ConfigError, match="not Next.js data JSON"):
        parse(fixtures / "not_nextjs.json", "nextjs")


def test_detect_type(fixtures, tmp_path):
    assert detect_type(Document("x", fixtures / "faq_page.html")) == "html"
    assert detect_type(Document("x", fixtures / "nextjs_faq.json")) == "nextjs"
    assert detect_type(Document("x", fixtures / "pairs.jsonl")) == "jsonl"
    odd = tmp_path / "pairs.txt"
    odd.write_text('{"instruction": "a?", "answer": "b"}\n', encoding="utf-8")
    assert detect_type(Document("x", odd)) == "jsonl"
    assert detect_type(Document("u", body="<html></html>", content_type="text/html")) == "html"
    garbage = tmp_path / "x.bin"
    garbage.write_text("hello world", encoding="utf-8")
    with pytest.raises(ConfigError, match="pass --source-type"):
        detect_type(Document("x.bin", garbage))


def test_unknown_source_type():
    with pytest.raises(
        ConfigError, match="unknown source type 'pdf'; choose one of auto, nextjs, html, jsonl"
    ):
        get_source("pdf")


def test_unreadable_source(tmp_path):
    binary = tmp_path / "latin1.html"
    binary.write_bytes(b"<p>caf\xe9</p>")
    with pytest.raises(ConfigError, match="cannot read source .*not UTF-8"):
        parse(binary, "html")
