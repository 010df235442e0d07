"""Merging an adapter gives a standalone model with the adapter's outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from finadvisor.errors import ConfigError
from finadvisor.finetune.merge import merge_adapter


def test_merged_model_matches_base_plus_adapter(tiny_base: Path, random_lora: Path, tmp_path: Path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = merge_adapter(random_lora, tmp_path / "merged", base=str(tiny_base))
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    assert not (out / "adapter_config.json").exists()
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), str(random_lora)).eval()
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, peft(ids).logits, atol=1e-4)
    with pytest.raises(ConfigError, match="not empty"):
        merge_adapter(random_lora, out, base=str(tiny_base))
    with pytest.raises(ConfigError, match="not a PEFT adapter"):
        merge_adapter(tmp_path, tmp_path / "m2", base=str(tiny_base))
