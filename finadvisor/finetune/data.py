"""ChatML JSONL in, (input_ids, labels) out, with the loss on assistant tokens only.

The seed's script labelled every non-pad token, and TRL's default for ``messages`` data does the same, so the
model also learns to write the system prompt and the user's questions. We mask the prompt as LLaMA-Factory and
axolotl do. To work with any chat template (not only ChatML, and without ``{% generation %}`` markers), we render
the conversation incrementally:

    ids(messages[:i] + generation prompt)  -> everything before assistant turn i: label -100
    ids(messages[:i+1])                    -> the rest of that prefix is the assistant turn: labelled

and keep the turn's end-of-turn token (``<|im_end|>`` for ChatML) in the loss so that the model learns to stop,
while template whitespace after it (ChatML's trailing newline) stays masked. Every rendering must be a prefix of
the full conversation's tokens; a template that rewrites earlier turns (e.g. one that drops past reasoning) is
refused with a clear error instead of producing shifted labels.

Each JSONL line: ``{"type": "chatml", "messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}``
(``type`` is optional).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finadvisor.errors import ConfigError

IGNORE_INDEX = -100
ROLES = {"system", "user", "assistant"}


@dataclass
class TokenizeStats:
    examples: int = 0
    kept: int = 0
    truncated: int = 0
    dropped_no_answer: int = 0
    assistant_tokens: int = 0
    total_tokens: int = 0


def _validate(messages: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise ConfigError(f"{where}: 'messages' must be a non-empty list")
    out = []
    for j, msg in enumerate(messages):
        if (
            not isinstance(msg, dict)
            or msg.get("role") not in ROLES
            or not isinstance(msg.get("content"), str)
        ):
            raise ConfigError(
                f"{where}: message {j} must be {{'role': system|user|assistant, 'content': str}}"
            )
        out.append({"role": msg["role"], "content": msg["content"]})
    if not any(m["role"] == "assistant" for m in out):
        raise ConfigError(f"{where}: the conversation has no assistant message to learn from")
    return out


def iter_chatml(path: Path) -> Iterator[list[dict[str, str]]]:
    """Validated conversations from a ChatML JSONL file; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"dataset {path} does not exist; build one with 'finadvisor dataset build'")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{where}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise ConfigError(f"{where}: each line must be a JSON object with 'messages'")
            if record.get("type", "chatml") != "chatml":
                raise ConfigError(f"{where}: type {record.get('type')!r} is not supported, expected 'chatml'")
            yield _validate(record.get("messages"), where)


def read_chatml(path: Path) -> list[list[dict[str, str]]]:
    conversations = list(iter_chatml(path))
    if not conversations:
        raise ConfigError(f"dataset {path} has no conversations")
    return conversations


def _render(tokenizer: Any, messages: list[dict[str, str]], *, generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=generation_prompt, return_dict=False
    )
    if isinstance(out, dict) or hasattr(out, "keys"):  # some tokenizers return a BatchEncoding regardless
        out = out["input_ids"]
    return [int(t) for t in out]


def end_of_turn_ids(tokenizer: Any) -> set[int]:
    """Token ids that close an assistant turn: ``<|im_end|>`` when present, and the EOS token."""
    ids = set()
    for token in ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>"):
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id and tid >= 0:
            ids.add(tid)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def tokenize_conversation(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for one conversation: labels are -100 except on assistant turns (with end-of-turn)."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise ConfigError("the tokenizer has no chat template; use an instruct/chat base model, or set one")
    full = _render(tokenizer, messages, generation_prompt=False)
    labels = [IGNORE_INDEX] * len(full)
    stops = end_of_turn_ids(tokenizer)
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], generation_prompt=True) if i else []
        through = _render(tokenizer, messages[: i + 1], generation_prompt=False)
        if full[: len(before)] != before or full[: len(through)] != through:
            raise ConfigError(
                "the chat template does not render conversations incrementally (an earlier turn "
                "changes when a later one is added), so assistant tokens cannot be located; "
                "use a template without history rewriting"
            )
        end = len(through)
        for k in range(len(before), len(through)):
            if through[k] in stops:
                end = k + 1  # keep the end-of-turn token, mask the template's whitespace after it
                break
        for k in range(len(before), end):
            labels[k] = full[k]
    return full, labels


def tokenize_dataset(
    tokenizer: Any,
    conversations: Iterable[list[dict[str, str]]],
    max_length: int,
) -> tuple[list[dict[str, list[int]]], TokenizeStats]:
    """Tokenise, truncate to ``max_length`` (keeping the start), and drop rows with no answer left."""
    rows: list[dict[str, list[int]]] = []
    stats = TokenizeStats()
    for messages in conversations:
        stats.examples += 1
        ids, labels = tokenize_conversation(tokenizer, messages)
        if len(ids) > max_length:
            stats.truncated += 1
            ids, labels = ids[:max_length], labels[:max_length]
        answer = sum(1 for t in labels if t != IGNORE_INDEX)
        if answer == 0:
            stats.dropped_no_answer += 1
            continue
        stats.kept += 1
        stats.assistant_tokens += answer
        stats.total_tokens += len(ids)
        rows.append({"input_ids": ids, "labels": labels})
    if not rows:
        raise ConfigError(
            f"no example keeps any answer token within max_length={max_length}; raise --max-length"
        )
    return rows, stats


def split_prompt_reference(messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], str]:
    """For evaluation: the messages before the last assistant turn, and that turn's text."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "assistant":
            return messages[:i], messages[i]["content"]
    raise ConfigError("conversation has no assistant message")
