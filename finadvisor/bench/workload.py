"""What the benchmark sends: chat prompts and advisor spending histories.

Every prompt gets a unique tag at its *start* by default. A tag at the end would only defeat whole-response caches;
servers with prefix (KV) caching, such as llama.cpp's slot cache and vLLM's automatic prefix caching, would still
reuse the shared system prompt and report an unrealistically low TTFT. ``unique=False`` sends identical prompts, to
measure exactly that effect.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finadvisor.errors import ConfigError

Messages = list[dict[str, str]]

SYSTEM_PROMPT = (
    "Bạn là trợ lý tài chính của một ví điện tử. Dựa trên lịch sử chi tiêu và thu nhập của người dùng, hãy tóm "
    "tắt thói quen chi tiêu và gợi ý tối đa ba dịch vụ phù hợp. Trả lời bằng tiếng Việt, ngắn gọn."
)

EARNING = ["Lương", "Nhận tiền", "Hoàn tiền", "Lãi tiết kiệm", "Thưởng", "Bán hàng online"]
SPENDING = [
    "Ăn uống",
    "Mua sắm",
    "Viễn thông",
    "Di chuyển",
    "Hóa đơn điện nước",
    "Giải trí",
    "Giáo dục",
    "Sức khỏe",
    "Du lịch",
    "Chuyển tiền",
    "Bảo hiểm",
    "Đầu tư",
    "Thời trang",
    "Nhà cửa",
]


def synthetic_history(rng: random.Random) -> dict[str, Any]:
    """A plausible monthly history in the seed's shape; amounts in VND, rounded to 1,000."""

    def rows(names: list[str], k: int, low: int, high: int) -> list[dict[str, Any]]:
        return [
            {"name": name, "amount": rng.randint(low, high) * 1000, "count": rng.randint(1, 40)}
            for name in rng.sample(names, k)
        ]

    return {
        "earning": rows(EARNING, rng.randint(1, 3), 500, 30_000),
        "spending": rows(SPENDING, rng.randint(2, 8), 20, 8_000),
    }


def history_prompt(history: dict[str, Any]) -> str:
    def lines(items: list[dict[str, Any]]) -> str:
        return "\n".join(f"- {c['name']}: {c['amount']:,} đ ({c.get('count', 0)} giao dịch)" for c in items)

    return (
        f"Thu nhập tháng này:\n{lines(history.get('earning', []))}\n"
        f"Chi tiêu tháng này:\n{lines(history.get('spending', []))}\n"
        "Hãy tóm tắt và gợi ý dịch vụ."
    )


def _read_records(path: Path) -> list[Any]:
    """A JSON list, or JSONL (one JSON value per line; blank lines skipped)."""
    if not path.is_file():
        raise ConfigError(f"dataset {path} does not exist; pass a .jsonl or .json file")
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"dataset {path} is not valid JSON: {exc}") from None
        records = list(data)
    else:
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"dataset {path} line {number} is not valid JSON: {exc.msg}") from None
    if not records:
        raise ConfigError(f"dataset {path} has no records")
    return records


def load_chat_dataset(path: Path) -> list[Messages]:
    """Records may be a string, {"prompt": str}, {"text": str} or {"messages": [{"role","content"}, ...]}."""
    out: list[Messages] = []
    for i, rec in enumerate(_read_records(path), 1):
        if isinstance(rec, str):
            out.append([{"role": "user", "content": rec}])
        elif isinstance(rec, dict) and isinstance(rec.get("messages"), list) and rec["messages"]:
            msgs = rec["messages"]
            if not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) and isinstance(m.get("role"), str)
                for m in msgs
            ):
                raise ConfigError(
                    f"dataset {path} record {i}: each message needs string 'role' and 'content'"
                )
            out.append([{"role": m["role"], "content": m["content"]} for m in msgs])
        elif isinstance(rec, dict) and isinstance(rec.get("prompt") or rec.get("text"), str):
            out.append([{"role": "user", "content": rec.get("prompt") or rec["text"]}])
        else:
            raise ConfigError(
                f"dataset {path} record {i}: expected a string, or an object with 'prompt', "
                "'text' or 'messages'"
            )
    return out


def load_histories(path: Path) -> list[dict[str, Any]]:
    """Records are spending histories, bare or wrapped as {"history": {...}}."""
    out = []
    for i, rec in enumerate(_read_records(path), 1):
        if isinstance(rec, dict) and isinstance(rec.get("history"), dict):
            rec = rec["history"]
        if not (isinstance(rec, dict) and ("spending" in rec or "earning" in rec)):
            raise ConfigError(
                f"dataset {path} record {i}: expected a history with 'spending'/'earning' lists"
            )
        out.append(rec)
    return out


class ChatWorkload:
    """Cycles through base conversations, tagging each request so no two prompts share a prefix."""

    def __init__(
        self,
        conversations: list[Messages] | None = None,
        *,
        prompt: str | None = None,
        unique: bool = True,
        seed: int = 0,
    ) -> None:
        if conversations:
            self.conversations = conversations
        elif prompt:
            self.conversations = [[{"role": "user", "content": prompt}]]
        else:
            rng = random.Random(seed)
            self.conversations = [
                [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": history_prompt(synthetic_history(rng))},
                ]
                for _ in range(64)
            ]
        self.unique = unique
        self.run_tag = secrets.token_hex(
            4
        )  # differs between runs, so a rerun does not hit the last run's cache
        self._count = 0

    def next(self) -> Messages:
        base = self.conversations[self._count % len(self.conversations)]
        n = self._count
        self._count += 1
        if not self.unique:
            return base
        first = base[0]
        tagged = {"role": first["role"], "content": f"[Mã yêu cầu {self.run_tag}-{n}]\n{first['content']}"}
        return [tagged, *base[1:]]


class HistoryWorkload:
    """Histories for POST /api/recommendations: a file's records in order (cycled), or fresh synthetic ones."""

    def __init__(self, histories: list[dict[str, Any]] | None = None, *, seed: int | None = None) -> None:
        self.histories = histories
        # Unseeded by default: the advisor's cache outlives a run, and a rerun must not replay the same histories.
        self._rng = random.Random(seed)
        self._count = 0

    def next(self) -> dict[str, Any]:
        if self.histories:
            history = self.histories[self._count % len(self.histories)]
        else:
            history = synthetic_history(self._rng)
        self._count += 1
        return history


def take(workload: ChatWorkload | HistoryWorkload, n: int) -> Iterator[Any]:
    for _ in range(n):
        yield workload.next()
