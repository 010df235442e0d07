"""``dataset generate``: Q&A pairs written by an LLM from unstructured text (the seed's "exercise for the reader").

    finadvisor dataset generate notes/*.txt --out data/gen.jsonl [--upstream http://host:8001/v1]

Text is cut into chunks at paragraph, then sentence boundaries. Each chunk goes to the model with a JSON schema
(``{"pairs": [{"question", "answer"}]}``). Every proposed pair is cleaned and validated; it is dropped when its
answer is not grounded in the chunk (too few of its words occur in the chunk: the model invented it) or when it
duplicates a pair already in the output.

Resuming: after a chunk's pairs are appended (one write + fsync), the chunk's id (a hash of its text and the
prompt settings) is recorded in ``<out>.state.json`` (written atomically). A rerun skips recorded chunks. If the
process dies between the two writes, the chunk is redone and its pairs are rejected as duplicates of the ones
already in the output, so nothing is doubled; a torn last line is cut off on restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finadvisor.dataset.chatml import DEFAULT_SYSTEM_PROMPT, dumps, to_chatml, write_json_atomic
from finadvisor.dataset.clean import Deduplicator
from finadvisor.dataset.items import QAItem
from finadvisor.dataset.jsonl_source import _pair
from finadvisor.dataset.llm import JsonLLM
from finadvisor.dataset.qa_filter import problem, reused_answers, strip_label
from finadvisor.dataset.text import clean_field, normalize, words
from finadvisor.errors import ConfigError, FinadvisorError

PROMPT_VERSION = "qa-v2"  # part of every chunk id: a new prompt redoes the chunks on the next run
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")

INSTRUCTIONS = (
    "Bạn tạo dữ liệu hỏi đáp để huấn luyện trợ lý chăm sóc khách hàng của một ví điện tử. "
    "Chỉ dùng thông tin có trong đoạn văn được cung cấp, không thêm kiến thức bên ngoài. "
    "Mỗi câu hỏi là một câu hỏi thật mà khách hàng sẽ hỏi về sản phẩm, kết thúc bằng dấu ?, "
    "không nhắc tới đoạn văn. Mỗi câu trả lời là 1 đến 3 câu đầy đủ bằng tiếng Việt, trả lời thẳng vào câu hỏi, "
    "không chép lại câu hỏi, không bắt đầu bằng 'Đáp án:' hay 'Trả lời:', dùng lại đúng các con số, "
    "tên mục và điều kiện trong đoạn văn. Chỉ trả về JSON, không viết gì khác."
)
# One worked example (invented facts, unlike any corpus): a 0.5B model copies the shape of an example far more
# reliably than it follows a description of it.
EXAMPLE_CHUNK = (
    "Nạp tiền vào ví từ ngân hàng liên kết được miễn phí. Rút tiền về ngân hàng mất 1.100đ mỗi lần "
    "và thường đến trong 5 phút."
)
EXAMPLE_REPLY = {
    "pairs": [
        {
            "question": "Nạp tiền vào ví từ ngân hàng liên kết có mất phí không?",
            "answer": "Không. Nạp tiền từ ngân hàng liên kết vào ví được miễn phí.",
        },
        {
            "question": "Rút tiền về ngân hàng mất bao lâu và tốn bao nhiêu?",
            "answer": "Mỗi lần rút tiền về ngân hàng mất phí 1.100đ, và tiền thường đến trong 5 phút.",
        },
    ]
}


def chunk_prompt(chunk: str, pairs: int) -> str:
    return f'Đoạn văn:\n"""\n{chunk}\n"""\n\nHãy tạo tối đa {pairs} cặp câu hỏi và câu trả lời.'


def prompt_messages(chunk: str, pairs: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": chunk_prompt(EXAMPLE_CHUNK, pairs)},
        {"role": "assistant", "content": json.dumps(EXAMPLE_REPLY, ensure_ascii=False)},
        {"role": "user", "content": chunk_prompt(chunk, pairs)},
    ]


def qa_schema(max_pairs: int) -> dict[str, Any]:
    pair = {
        "type": "object",
        "additionalProperties": False,
        "required": ["question", "answer"],
        "properties": {
            "question": {"type": "string", "minLength": 5, "maxLength": 300},
            "answer": {"type": "string", "minLength": 5, "maxLength": 1200},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["pairs"],
        "properties": {"pairs": {"type": "array", "items": pair, "minItems": 1, "maxItems": max_pairs}},
    }


@dataclass(frozen=True)
class GenerateConfig:
    chunk_chars: int = 1500
    pairs_per_chunk: int = 3
    min_grounding: float = 0.6  # share of the answer's words that must occur in the chunk
    min_answer_chars: int = 8
    max_tokens: int = 768
    system_prompt: str = DEFAULT_SYSTEM_PROMPT  # written into the output records
    retries: int = 1  # extra attempts when the model's JSON is unusable


@dataclass
class GenerateReport:
    chunks: int = 0
    resumed: int = 0  # already done in an earlier run
    processed: int = 0
    failed: int = 0
    proposed: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks,
            "resumed": self.resumed,
            "processed": self.processed,
            "failed": self.failed,
            "pairs_proposed": self.proposed,
            "pairs_kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "errors": self.errors[:20],
        }


def chunk_text(text: str, chunk_chars: int = 1500) -> Iterator[str]:
    """Greedy packing of paragraphs (then sentences, then words) into chunks of at most ``chunk_chars``."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = normalize(paragraph, single_line=True)
        if not paragraph:
            continue
        if len(paragraph) <= chunk_chars:
            pieces.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            while len(sentence) > chunk_chars:
                cut = sentence.rfind(" ", 0, chunk_chars)
                cut = cut if cut > 0 else chunk_chars
                pieces.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if sentence:
                pieces.append(sentence)
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > chunk_chars:
            yield current
            current = piece
        else:
            current = f"{current}\n{piece}" if current else piece
    if current:
        yield current


def chunk_id(chunk: str, config: GenerateConfig) -> str:
    key = f"{PROMPT_VERSION}\x1f{config.pairs_per_chunk}\x1f{chunk}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def grounding(answer: str, chunk_words: set[str]) -> float:
    tokens = words(answer)
    if not tokens:
        return 0.0
    return sum(1 for t in tokens if t in chunk_words) / len(tokens)


def parse_pairs(raw: str) -> list[tuple[str, str]]:
    """The pairs in a model reply; ValueError when the reply is not the expected JSON."""
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    data = json.loads(text)
    pairs = data.get("pairs") if isinstance(data, dict) else data
    if not isinstance(pairs, list):
        raise ValueError("reply has no 'pairs' list")
    out = []
    for entry in pairs:
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("question"), str)
            and isinstance(entry.get("answer"), str)
        ):
            out.append((entry["question"], entry["answer"]))
    return out


class GenerateState:
    """The sidecar ``<out>.state.json``: ids of finished chunks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, int] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.done = {str(k): int(v) for k, v in data.get("done", {}).items()}
            except (json.JSONDecodeError, AttributeError, ValueError, TypeError) as exc:
                raise ConfigError(f"resume state {path} is corrupt ({exc}); delete it to start over") from exc

    def mark(self, cid: str, kept: int) -> None:
        self.done[cid] = kept
        write_json_atomic(self.path, {"prompt_version": PROMPT_VERSION, "done": self.done})


def state_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".state.json")


def _load_existing(out: Path, dedup: Deduplicator) -> int:
    """Feed pairs already in ``out`` to the deduplicator; cut a torn last line. Returns pairs seen."""
    if not out.exists():
        return 0
    good_end = 0
    seen = 0
    with out.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            good_end += len(raw)
            pair = _pair(record) if isinstance(record, dict) else None
            if pair:
                dedup.check(*pair)
                seen += 1
    if good_end != out.stat().st_size:
        with out.open("r+b") as handle:
            handle.truncate(good_end)
    return seen


async def generate_dataset(
    text_files: Sequence[Path],
    out: Path,
    llm: JsonLLM,
    config: GenerateConfig | None = None,
    *,
    progress: bool = False,
) -> GenerateReport:
    config = config or GenerateConfig()
    if not text_files:
        raise ConfigError("no text files given", param="TEXT_FILES")
    for path in text_files:
        if not path.is_file():
            raise ConfigError(f"cannot read source {path}: no such file", param="TEXT_FILES")
        if out.exists() and os.path.samefile(out, path):
            raise ConfigError(
                f"refusing to write into input file {path}; choose another --out", param="--out"
            )
    chunks: list[tuple[Path, int, str]] = []
    for path in text_files:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read source {path}: {exc}") from exc
        chunks.extend((path, i, chunk) for i, chunk in enumerate(chunk_text(text, config.chunk_chars)))
    out.parent.mkdir(parents=True, exist_ok=True)
    state = GenerateState(state_path(out))
    dedup = Deduplicator()
    _load_existing(out, dedup)
    report = GenerateReport(chunks=len(chunks))
    schema = qa_schema(config.pairs_per_chunk)
    bar = _bar(progress, len(chunks))
    await llm.start()
    try:
        for path, index, chunk in chunks:
            cid = chunk_id(chunk, config)
            if cid in state.done:
                report.resumed += 1
            else:
                lines = await _one_chunk(llm, path, index, chunk, cid, schema, dedup, config, report)
                if lines is not None:
                    if lines:
                        with out.open("a", encoding="utf-8") as handle:
                            handle.write("".join(lines))
                            handle.flush()
                            os.fsync(handle.fileno())
                    state.mark(cid, len(lines))
                    report.processed += 1
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        await llm.close()
    return report


async def _one_chunk(
    llm: JsonLLM,
    path: Path,
    index: int,
    chunk: str,
    cid: str,
    schema: dict[str, Any],
    dedup: Deduplicator,
    config: GenerateConfig,
    report: GenerateReport,
) -> list[str] | None:
    messages = prompt_messages(chunk, config.pairs_per_chunk)
    pairs: list[tuple[str, str]] | None = None
    for _attempt in range(config.retries + 1):
        try:
            raw = await llm.complete(messages, schema, config.max_tokens)
        except FinadvisorError as exc:
            report.errors.append(f"{path}#{index}: {exc.message}")
            continue
        try:
            pairs = parse_pairs(raw)
            break
        except (ValueError, json.JSONDecodeError) as exc:
            report.errors.append(f"{path}#{index}: unusable model reply ({exc})")
    if pairs is None:
        report.failed += 1
        return None
    chunk_words = set(words(chunk))
    lines = []
    cleaned = [
        (strip_label(clean_field(q, single_line=True), question=True), strip_label(clean_field(a)))
        for q, a in pairs[: config.pairs_per_chunk]
    ]
    reused = reused_answers(cleaned)
    for position, (question, answer) in enumerate(cleaned):
        report.proposed += 1
        if not question or not answer:
            reason: str | None = "empty"
        elif len(answer) < config.min_answer_chars or len(question) < 4:
            reason = "too_short"
        elif position in reused:
            reason = "answer_reused"
        else:
            reason = problem(question, answer, chunk)
        if reason is None and grounding(answer, chunk_words) < config.min_grounding:
            reason = "not_grounded"
        if reason is None:
            reason = dedup.check(question, answer)
        if reason is not None:
            report.dropped[reason] += 1
            continue
        report.kept += 1
        item = QAItem(question, answer, f"{path}#chunk{index}", "generated", f"llm:{llm.name}", None, cid)
        lines.append(dumps(to_chatml(item, config.system_prompt)))
    return lines


class _TqdmBar:
    def __init__(self, total: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="chunk", desc="generating")

    def update(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def _bar(enabled: bool, total: int) -> _TqdmBar | None:
    return _TqdmBar(total) if enabled else None
