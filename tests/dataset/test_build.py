"""The build pipeline end to end: cleaning, dedup, split, report, guards, URLs, HF datasets loading."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from finadvisor.dataset.build import build_dataset
from finadvisor.dataset.clean import CleanConfig, Cleaner
from finadvisor.dataset.fetch import Fetcher
from finadvisor.dataset.items import QAItem
from finadvisor.errors import ConfigError, UpstreamError
from tests.dataset.conftest import DEMO


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_cleaner_reasons():
    cleaner = Cleaner(CleanConfig(min_chars=8, max_chars=200))
    item = lambda q, a: QAItem(q, a, "s")  # noqa: E731
    assert cleaner.clean(item("<p> </p>", "trả lời")) == "empty"
    assert cleaner.clean(item("Câu hỏi?", "Có.")) == "too_short"
    assert cleaner.clean(item("Câu hỏi?", "x" * 300)) == "too_long"
    kept = cleaner.clean(
        item("  Phí <b>rút</b> tiền?", "Miễn phí 5 lần đầu mỗi tháng, sau đó 3.300đ mỗi lần.")
    )
    assert isinstance(kept, QAItem) and kept.question == "Phí rút tiền?"
    assert (
        cleaner.clean(item("phí rút tiền", "miễn phí 5 lần đầu mỗi tháng, sau đó 3.300đ mỗi lần"))
        == "duplicate"
    )
    assert cleaner.clean(item("Phí rút tiền?", "Một câu trả lời khác hẳn.")) == "duplicate_question"
    assert (
        cleaner.clean(item("Phí rút tiền ạ?", "Miễn phí 5 lần đầu mỗi tháng, sau đó 3.300đ mỗi lần."))
        == "near_duplicate"
    )
    # distinct facts about different entities survive the near-duplicate filter
    assert isinstance(
        cleaner.clean(item("Lotus Bank", "Liên kết Lotus Bank để nạp tối đa 50 triệu đồng mỗi lần.")), QAItem
    )
    assert isinstance(
        cleaner.clean(item("Mekong Bank", "Liên kết Mekong Bank để nạp tối đa 30 triệu đồng mỗi lần.")),
        QAItem,
    )


def test_build_fixtures_report_and_format(fixtures, tmp_path):
    out = tmp_path / "out" / "train.jsonl"
    report = build_dataset(
        [
            str(fixtures / "faq_page.html"),
            str(fixtures / "nextjs_faq.json"),
            str(fixtures / "nextjs_features.json"),
            str(fixtures / "pairs.jsonl"),
        ],
        out,
        system_prompt="SYS",
    )
    assert report.items_in == 4 + 5 + 9 + 3
    assert report.dropped == {"empty": 1, "too_short": 1, "duplicate": 1}
    assert report.kept == report.items_in - 3 == report.train
    rows = read(out)
    assert len(rows) == report.kept
    row = rows[0]
    assert row["type"] == "chatml" and row["source"].endswith("faq_page.html")
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][0]["content"] == "SYS"
    assert set(row["meta"]) == {"source_type", "component", "category", "ref"}
    questions = [r["messages"][1]["content"] for r in rows]
    assert "Ví Mẫu là gì?" in questions  # HTML stripped from a Next.js field
    assert questions.count("Phí chuyển tiền là bao nhiêu?") == 1  # NFD copy and NFC copy are one pair
    saved = json.loads((tmp_path / "out" / "train.report.json").read_text(encoding="utf-8"))
    assert saved["kept"] == report.kept and saved["dropped"]["duplicate"] == 1
    assert saved["skipped_in_sources"]["unknown_component:shared.hero-banner"] == 1


def test_split_is_deterministic_by_seed(tmp_path):
    runs = {}
    for name, seed in [("a", 0), ("b", 0), ("c", 7)]:
        out, ev = tmp_path / f"{name}.jsonl", tmp_path / f"{name}_eval.jsonl"
        report = build_dataset([str(DEMO)], out, eval_out=ev, eval_ratio=0.2, seed=seed)
        assert report.train + report.eval == report.kept
        runs[name] = [r["messages"][1]["content"] for r in read(ev)]
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]
    assert 0.1 < len(runs["a"]) / 247 < 0.3


def test_demo_corpus_yields_enough_clean_pairs(tmp_path):
    report = build_dataset([str(DEMO)], tmp_path / "demo.jsonl")
    assert report.kept >= 220
    assert sum(report.dropped.values()) == 0
    answers = [r["messages"][2]["content"] for r in read(tmp_path / "demo.jsonl")]
    assert any("1900 2468" in a for a in answers)


def test_output_loads_with_hf_datasets(fixtures, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "train.jsonl"
    build_dataset([str(DEMO), str(fixtures / "nextjs_features.json"), str(fixtures / "pairs.jsonl")], out)
    ds = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert len(ds) == len(read(out))
    assert ds[0]["messages"][1]["role"] == "user"
    assert "meta" in ds.column_names


def test_refuses_to_overwrite_an_input(fixtures, tmp_path):
    src = tmp_path / "pairs.jsonl"
    src.write_text((fixtures / "pairs.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    before = src.read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite input file"):
        build_dataset([str(tmp_path)], src)
    with pytest.raises(ConfigError, match="refusing to overwrite input file"):
        build_dataset([str(src)], tmp_path / "x.jsonl", eval_out=tmp_path / "." / "pairs.jsonl")
    with pytest.raises(ConfigError, match="same file"):
        build_dataset([str(src)], tmp_path / "o.jsonl", eval_out=tmp_path / "o.jsonl")
    assert src.read_bytes() == before


def test_failed_build_leaves_no_output(fixtures, tmp_path):
    out = tmp_path / "train.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad_line\.jsonl:3"):
        build_dataset([str(fixtures / "pairs.jsonl"), str(fixtures / "bad_line.jsonl")], out)
    assert out.read_text(encoding="utf-8") == "previous\n"  # old output intact
    assert [p.name for p in tmp_path.iterdir()] == ["train.jsonl"]  # no temp file left


def test_missing_source_and_bad_type(tmp_path):
    with pytest.raises(ConfigError, match="cannot read source .*nope.html: no such file"):
        build_dataset([str(tmp_path / "nope.html")], tmp_path / "o.jsonl")
    with pytest.raises(ConfigError, match="unknown source type 'xml'"):
        build_dataset([str(DEMO)], tmp_path / "o.jsonl", source_type="xml")


def _page_transport(fixtures: Path, log: list[str]) -> httpx.MockTransport:
    html = (fixtures / "faq_page.html").read_text(encoding="utf-8")
    nextjs = (fixtures / "nextjs_faq.json").read_text(encoding="utf-8")
    state = {"flaky": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        log.append(request.url.path)
        if request.url.path == "/hoi-dap":
            return httpx.Response(200, text=html, headers={"content-type": "text/html; charset=utf-8"})
        if request.url.path == "/_next/data/build1/vi/hoi-dap.json":
            state["flaky"] += 1
            if state["flaky"] == 1:
                return httpx.Response(503, headers={"retry-after": "2"})
            return httpx.Response(200, text=nextjs, headers={"content-type": "application/json"})
        return httpx.Response(404)

    return httpx.MockTransport(handler)


def test_urls_are_fetched_with_retries_and_rate_limit(fixtures, tmp_path):
    log: list[str] = []
    sleeps: list[float] = []
    clock = [0.0]

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock[0] += s

    fetcher = Fetcher(
        transport=_page_transport(fixtures, log),
        sleep=sleep,
        clock=lambda: clock[0],
        min_interval_s=1.0,
        backoff_s=0.5,
    )
    report = build_dataset(
        ["https://vi-mau.example/hoi-dap", "https://vi-mau.example/_next/data/build1/vi/hoi-dap.json"],
        tmp_path / "o.jsonl",
        fetcher=fetcher,
    )
    assert log == ["/hoi-dap", "/_next/data/build1/vi/hoi-dap.json", "/_next/data/build1/vi/hoi-dap.json"]
    assert report.per_source["https://vi-mau.example/hoi-dap"]["in"] == 4
    assert report.kept == 4 + 2  # the Next.js page: 5 articles, one empty, one too short, one duplicate
    assert 2.0 in sleeps  # Retry-After honoured
    assert all(s > 0 for s in sleeps)
    fetcher.close()


def test_url_errors_are_clear(fixtures, tmp_path):
    fetcher = Fetcher(transport=_page_transport(fixtures, []), sleep=lambda s: None, retries=1)
    with pytest.raises(ConfigError, match="HTTP 404; check the URL"):
        build_dataset(["https://vi-mau.example/missing.json"], tmp_path / "o.jsonl", fetcher=fetcher)
    down = Fetcher(
        transport=httpx.MockTransport(lambda r: httpx.Response(500)), sleep=lambda s: None, retries=2
    )
    with pytest.raises(UpstreamError, match="after 3 attempts \\(HTTP 500\\)"):
        down.get("https://vi-mau.example/x")
    assert down.requests_made == 3
