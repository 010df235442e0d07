"""Two LoRA steps on the real packaged model (Qwen2.5-Coder-0.5B GGUF, dequantised): ~1 min, ~7 GB RSS."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from finadvisor.finetune.config import build_config
from finadvisor.finetune.train import train
from tests.finetune.tiny import write_faq_jsonl


@pytest.mark.slow
def test_two_steps_on_the_default_gguf_model(
    tmp_path: Path, default_model: Path, monkeypatch: pytest.MonkeyPatch
):
    # The packaged model is read where it was assembled; every cache (ours, HF's, XDG's) points at tmp_path.
    for var in ("FINADVISOR_CACHE_DIR", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "cache" / var.lower()))
    data = write_faq_jsonl(tmp_path / "faq.jsonl")
    cfg = build_config(
        data=data,
        out=tmp_path / "adapter",
        base=str(default_model),
        max_steps=2,
        max_length=128,
        batch_size=2,
        save_steps=2,
    )
    result = train(cfg, progress=False)
    assert result.steps == 2 and math.isfinite(result.last_loss)
    meta = json.loads((tmp_path / "adapter" / "finadvisor_base.json").read_text())
    assert meta["base"].endswith(".gguf") and meta["config"]["model_type"] == "qwen2"
    assert meta["config"]["num_hidden_layers"] == 24
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    assert result.gguf is not None and Path(result.gguf).stat().st_size > 100_000
