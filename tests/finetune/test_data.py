"""The label mask: loss on assistant tokens (and their end-of-turn token) only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finadvisor.errors import ConfigError
from finadvisor.finetune.data import IGNORE_INDEX, read_chatml, tokenize_conversation, tokenize_dataset


@pytest.fixture(scope="module")
def tok(tiny_base: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_base)


def labelled_text(tok, ids, labels) -> list[str]:
    """Decoded runs of consecutive labelled tokens."""
    runs, cur = [], []
    for i, lab in zip(ids, labels, strict=True):
        if lab != IGNORE_INDEX:
            assert lab == i  # labels are the input ids themselves (the model shifts them)
            cur.append(i)
        elif cur:
            runs.append(tok.decode(cur))
            cur = []
    if cur:
        runs.append(tok.decode(cur))
    return runs


def test_only_the_answer_and_its_end_of_turn_are_labelled(tok):
    msgs = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Phí chuyển tiền là bao nhiêu?"},
        {"role": "assistant", "content": "Chuyển tiền nội bộ miễn phí."},
    ]
    ids, labels = tokenize_conversation(tok, msgs)
    assert tok.decode(ids).endswith("<|im_end|>\n")
    assert labelled_text(tok, ids, labels) == ["Chuyển tiền nội bộ miễn phí.<|im_end|>"]
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert labels[-1] == IGNORE_INDEX  # the template's trailing newline is not trained
    assert labels[-2] == im_end  # the end-of-turn token is, so the model learns to stop
    # everything up to and including "<|im_start|>assistant\n" is masked
    first = next(k for k, lab in enumerate(labels) if lab != IGNORE_INDEX)
    assert tok.decode(ids[:first]).endswith("<|im_start|>assistant\n")
    assert "Phí chuyển" in tok.decode(ids[:first])


def test_every_assistant_turn_is_labelled_and_user_turns_between_are_not(tok):
    msgs = [
        {"role": "user", "content": "What is the transfer limit per day?"},
        {"role": "assistant", "content": "It depends."},
        {"role": "user", "content": "On what?"},
        {"role": "assistant", "content": "Your verification level."},
    ]
    ids, labels = tokenize_conversation(tok, msgs)
    assert labelled_text(tok, ids, labels) == ["It depends.<|im_end|>", "Your verification level.<|im_end|>"]


def test_truncation_keeps_the_start_and_drops_examples_without_answer(tok):
    long_q = [{"role": "user", "content": "tiền " * 200}, {"role": "assistant", "content": "ok"}]
    short = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Chào bạn."}]
    rows, stats = tokenize_dataset(tok, [long_q, short], max_length=64)
    assert stats.examples == 2 and stats.kept == 1 and stats.dropped_no_answer == 1 and stats.truncated == 1
    assert all(len(r["input_ids"]) <= 64 for r in rows)
    with pytest.raises(ConfigError, match="raise --max-length"):
        tokenize_dataset(tok, [long_q], max_length=64)


def test_template_that_rewrites_history_is_refused(tok):
    import copy

    bad = copy.deepcopy(tok)
    # renders only the last two messages: adding a turn changes what came before
    bad.chat_template = (
        "{% for m in messages[-2:] %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
        "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
        "{% endif %}"
    )
    msgs = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    with pytest.raises(ConfigError, match="incrementally"):
        tokenize_conversation(bad, msgs)


def test_reader_names_the_bad_line(tmp_path: Path):
    good = {
        "type": "chatml",
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
    }
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + "{not json\n")
    with pytest.raises(ConfigError, match=r"d.jsonl:3: not valid JSON"):
        read_chatml(path)
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(ConfigError, match="no assistant message"):
        read_chatml(path)
    path.write_text(json.dumps({"messages": [{"role": "robot", "content": "q"}]}) + "\n")
    with pytest.raises(ConfigError, match="message 0 must be"):
        read_chatml(path)
    with pytest.raises(ConfigError, match="does not exist"):
        read_chatml(tmp_path / "missing.jsonl")
    path.write_text(json.dumps(good) + "\n")
    assert read_chatml(path) == [good["messages"]]
