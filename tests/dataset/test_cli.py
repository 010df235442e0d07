"""The ``finadvisor dataset`` commands through Typer, and ``stats``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from finadvisor.dataset.cli import app
from finadvisor.dataset.stats import dataset_stats
from finadvisor.errors import ConfigError
from tests.dataset.conftest import DEMO

runner = CliRunner()


def test_build_and_stats_commands(tmp_path):
    out, ev = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    result = runner.invoke(
        app,
        [
            "build",
            str(DEMO),
            "--out",
            str(out),
            "--eval-out",
            str(ev),
            "--eval-ratio",
            "0.1",
            "--system-prompt",
            "Bạn là trợ lý.",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "train.report.json").read_text(encoding="utf-8"))
    assert report["train"] + report["eval"] == report["kept"] >= 220
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["messages"][0]["content"] == "Bạn là trợ lý."
    result = runner.invoke(app, ["stats", str(out), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["pairs"] == report["train"] and stats["exact_duplicates"] == 0
    assert stats["distinct_sources"] == 7


def test_build_command_errors_are_project_errors(fixtures, tmp_path):
    result = runner.invoke(
        app, ["build", str(fixtures / "bad_line.jsonl"), "--out", str(tmp_path / "o.jsonl")]
    )
    assert isinstance(result.exception, ConfigError)
    assert "bad_line.jsonl:3: invalid JSON" in result.exception.message


def test_stats_counts_duplicates_and_invalid_lines(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [
        {"instruction": "Câu hỏi một?", "answer": "Trả lời một."},
        {"instruction": "câu hỏi một", "answer": "trả lời một"},
        {"instruction": "Câu hỏi một?", "answer": "Trả lời khác."},
        {"instruction": "Câu hỏi hai?", "answer": "Trả lời hai dài hơn."},
    ]
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{broken\n", encoding="utf-8"
    )
    stats = dataset_stats(path)
    assert stats["pairs"] == 4 and stats["exact_duplicates"] == 1 and stats["repeated_questions"] == 1
    assert stats["invalid_json_lines"] == 1 and stats["first_invalid"].startswith("line 5")
    assert stats["answer_chars"]["max"] == len("Trả lời hai dài hơn.")
