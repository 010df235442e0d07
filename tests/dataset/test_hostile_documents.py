"""Issue 25: one hostile page or file never ends ``dataset build``: deep HTML is walked without recursion, and
deep or huge-integer JSON-LD, Next.js data or JSONL lines are skipped and counted, while the good documents
beside them are still built."""

from __future__ import annotations

import json
from pathlib import Path

from finadvisor.dataset.build import build_dataset
from finadvisor.dataset.text import html_to_text

GOOD = {
    "instruction": "Làm sao để nạp tiền vào ví?",
    "answer": "Bạn chọn Nạp tiền, chọn ngân hàng đã liên kết, nhập số tiền và xác nhận bằng mã PIN.",
}
DEPTH = 5_000  # past Python's recursion limit (1,000) and the json parser's


def _faq_page(body_inside: str = "") -> str:
    return (
        "<html><body><h1>Câu hỏi thường gặp</h1>"
        "<h3>1. Làm sao để rút tiền về ngân hàng?</h3>"
        "<p>Bạn chọn Rút tiền, chọn tài khoản ngân hàng đã liên kết, nhập số tiền và xác nhận.</p>"
        f"{body_inside}</body></html>"
    )


def _hostile(tmp_path: Path) -> list[Path]:
    files = {
        "deep.html": _faq_page("<div>" * DEPTH + "sâu" + "</div>" * DEPTH),
        "deep_ld.html": _faq_page(
            '<script type="application/ld+json">' + "[" * DEPTH + "]" * DEPTH + "</script>"
        ),
        "bigint_ld.html": _faq_page(
            '<script type="application/ld+json">{"@type": "FAQPage", "n": ' + "9" * 5000 + "}</script>"
        ),
        "flat_ld.html": _faq_page(
            '<script type="application/ld+json">{"@type": "FAQPage", "mainEntity": '
            + '{"@graph": ' * 5000
            + "[]"
            + "}" * 5000
            + "}</script>"
        ),
        "deep_next.json": '{"pageProps": ' + '{"a": ' * DEPTH + "1" + "}" * DEPTH + "}",
        "bigint_next.json": '{"pageProps": {"n": ' + "9" * 5000 + "}}",
        "lines.jsonl": "\n".join(
            [
                json.dumps(GOOD, ensure_ascii=False),
                '{"instruction": "x", "n": ' + "9" * 5000 + "}",
                '{"instruction": ' + "[" * DEPTH + "]" * DEPTH + "}",
            ]
        )
        + "\n",
    }
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def test_hostile_documents_are_skips_and_the_build_goes_on(tmp_path: Path) -> None:
    sources = _hostile(tmp_path)
    out = tmp_path / "out" / "train.jsonl"
    report = build_dataset([str(p) for p in sources], out)
    kept = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    questions = {r["messages"][1]["content"] for r in kept}
    assert GOOD["instruction"] in questions  # the good line beside two hostile ones
    assert any("rút tiền" in q for q in questions)  # the FAQ pair of the pages with hostile parts
    skipped = dict(report.skipped)
    assert skipped.get("jsonl:too_deep_or_too_large") == 2
    assert skipped.get("html:jsonld_invalid", 0) >= 2  # deep and huge-integer JSON-LD blocks
    assert sum(n for k, n in skipped.items() if k.startswith("nextjs:")) >= 2


def test_deep_html_text_is_read_without_recursion() -> None:
    text = html_to_text("<div>" * DEPTH + "<p>đáy</p>" + "</div>" * DEPTH)
    assert text.strip() == "đáy"
