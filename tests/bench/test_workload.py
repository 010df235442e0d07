from __future__ import annotations

import json
import random

import pytest

from finadvisor.bench.workload import (
    ChatWorkload,
    HistoryWorkload,
    load_chat_dataset,
    load_histories,
    synthetic_history,
)
from finadvisor.errors import ConfigError
from finadvisor.history import SpendingHistory


def test_unique_tag_goes_first_so_prefix_caches_cannot_match():
    w = ChatWorkload(prompt="Xin chào")
    a, b = w.next(), w.next()
    assert a[0]["content"] != b[0]["content"]
    assert a[0]["content"].endswith("Xin chào") and b[0]["content"].endswith("Xin chào")
    # the two prompts differ within their first 40 characters: no shared prefix worth caching
    assert a[0]["content"][:40] != b[0]["content"][:40]
    assert ChatWorkload(prompt="x").run_tag != ChatWorkload(prompt="x").run_tag


def test_repeat_prompts_sends_identical_messages():
    w = ChatWorkload(prompt="Xin chào", unique=False)
    assert w.next() == w.next() == [{"role": "user", "content": "Xin chào"}]


def test_synthetic_histories_are_valid_and_varied():
    rng = random.Random(1)
    hs = [synthetic_history(rng) for _ in range(20)]
    for h in hs:
        parsed = SpendingHistory.model_validate(h)
        assert parsed.spending and parsed.earning
    assert len({json.dumps(h, sort_keys=True) for h in hs}) == 20
    assert HistoryWorkload(seed=3).next() == HistoryWorkload(seed=3).next()


def test_chat_dataset_formats(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        '"plain"\n\n{"prompt": "p"}\n{"messages": [{"role": "system", "content": "s"}, '
        '{"role": "user", "content": "u"}]}\n',
        encoding="utf-8",
    )
    convs = load_chat_dataset(path)
    assert convs == [
        [{"role": "user", "content": "plain"}],
        [{"role": "user", "content": "p"}],
        [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
    ]


def test_dataset_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_chat_dataset(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{oops\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2"):
        load_chat_dataset(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('[{"foo": 1}]', encoding="utf-8")
    with pytest.raises(ConfigError, match="record 1"):
        load_chat_dataset(wrong)
    with pytest.raises(ConfigError, match="spending"):
        load_histories(wrong)


def test_histories_file_bare_or_wrapped(tmp_path):
    path = tmp_path / "h.json"
    h = {"earning": [], "spending": [{"name": "Ăn uống", "amount": 45000, "count": 3}]}
    path.write_text(json.dumps([h, {"history": h}]), encoding="utf-8")
    w = HistoryWorkload(load_histories(path))
    assert [w.next(), w.next(), w.next()] == [h, h, h]
