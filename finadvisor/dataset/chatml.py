"""The output format (the seed's ChatML JSONL), the deterministic train/eval split and atomic file writing.

One line per pair::

    {"type": "chatml", "source": "...", "messages": [{"role": "system", ...}, {"role": "user", ...},
     {"role": "assistant", ...}], "meta": {"source_type": ..., "component": ..., "category": ..., "ref": ...}}

The split hashes (seed, question): the same pair always lands on the same side whatever the input order, which a
streaming writer needs (no shuffle buffer) and which keeps an eval set stable when sources grow.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from finadvisor.dataset.items import QAItem
from finadvisor.dataset.text import loose_key
from finadvisor.fsutil import atomic_open, atomic_write

DEFAULT_SYSTEM_PROMPT = (
    "Bạn là trợ lý chăm sóc khách hàng của ví điện tử FinAdvisor Ví. Trả lời ngắn gọn, "
    "chính xác bằng tiếng Việt."
)


def to_chatml(item: QAItem, system_prompt: str = DEFAULT_SYSTEM_PROMPT) -> dict[str, Any]:
    return {
        "type": "chatml",
        "source": item.source,
        "messages": [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": item.question},
            {"role": "assistant", "content": item.answer},
        ],
        "meta": item.meta(),
    }


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def is_eval(question: str, seed: int, ratio: float) -> bool:
    """Deterministic: the pair goes to eval when its (seed, question) hash falls below ``ratio``."""
    if ratio <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}\x1f{loose_key(question)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < ratio


class AtomicWriter:
    """A line-counting writer over :func:`finadvisor.fsutil.atomic_open`: the target is replaced only on success."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._context: contextlib.AbstractContextManager[IO[Any]] | None = None
        self._handle: IO[Any] | None = None
        self.lines = 0

    def __enter__(self) -> AtomicWriter:
        self._context = atomic_open(self.path, "w")
        self._handle = self._context.__enter__()
        return self

    def write(self, text: str) -> None:
        assert self._handle is not None
        self._handle.write(text)
        self.lines += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._context is not None
        self._context.__exit__(exc_type, exc, tb)


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
