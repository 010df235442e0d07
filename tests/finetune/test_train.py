"""Training on the tiny model: the loss falls, checkpoints resume, the saved adapter reloads exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finadvisor.errors import ConfigError
from finadvisor.finetune.config import build_config
from finadvisor.finetune.train import perplexity, train


def _cfg(tiny_base: Path, data: Path, out: Path, **kw):
    opts = dict(
        data=data,
        out=out,
        base=str(tiny_base),
        lr=5e-3,
        dropout=0.0,
        batch_size=2,
        max_length=96,
        save_steps=3,
        logging_steps=1,
        max_steps=8,
        scheduler="constant",
        warmup_ratio=0.0,
    )
    opts.update(kw)
    return build_config(**opts)


@pytest.fixture(scope="module")
def trained(tiny_base: Path, faq_jsonl: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("train") / "faq"
    return train(_cfg(tiny_base, faq_jsonl, out, max_steps=12), progress=False)


def test_a_few_steps_lower_the_answer_loss(trained, tiny_base: Path, faq_jsonl: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finadvisor.finetune.data import read_chatml, tokenize_dataset

    tok = AutoTokenizer.from_pretrained(tiny_base)
    rows, _ = tokenize_dataset(tok, read_chatml(faq_jsonl), 96)
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    before = perplexity(base, rows)
    after = perplexity(PeftModel.from_pretrained(base, str(trained.out)), rows)
    assert trained.steps == 12
    assert after < 0.5 * before, (before, after)
    assert trained.last_loss < trained.first_loss
    log = [json.loads(line) for line in (trained.out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == list(range(1, 13))


def test_output_folder_is_a_peft_adapter_with_gguf_and_metadata(trained):
    out = trained.out
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] == 8 and cfg["lora_alpha"] == 16
    assert sorted(cfg["target_modules"]) == ["k_proj", "o_proj", "q_proj", "v_proj"]
    meta = json.loads((out / "finadvisor_base.json").read_text())
    assert meta["config"]["model_type"] == "qwen2" and meta["steps"] == 12
    assert trained.gguf == str(out / "adapter.gguf") and (out / "adapter.gguf").stat().st_size > 0
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == [
        "checkpoint-12",
        "checkpoint-6",
        "checkpoint-9",
    ]


def test_saved_adapter_reloads_to_identical_logits(trained, tiny_base: Path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 250]])
    a = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), str(trained.out)).eval()
    b = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), str(trained.out)).eval()
    ckpt = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_base), str(trained.out / "checkpoints" / "checkpoint-12")
    ).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    with torch.no_grad():
        la, lb, lc, l0 = (m(ids).logits for m in (a, b, ckpt, base))
    assert torch.equal(la, lb) and torch.equal(la, lc)
    assert (la - l0).abs().max() > 1e-2  # the adapter actually changed the model


def test_resume_continues_from_the_last_checkpoint(tiny_base: Path, faq_jsonl: Path, tmp_path: Path):
    out = tmp_path / "run"
    first = train(_cfg(tiny_base, faq_jsonl, out, max_steps=3, save_steps=3), progress=False)
    assert first.steps == 3
    with pytest.raises(ConfigError, match="pass --resume"):
        train(_cfg(tiny_base, faq_jsonl, out, max_steps=6), progress=False)
    second = train(_cfg(tiny_base, faq_jsonl, out, max_steps=6, resume=True), progress=False)
    assert second.steps == 6
    logged = [r["step"] for r in second.log_history if "loss" in r]
    assert logged[:3] == [1, 2, 3] and logged[-3:] == [4, 5, 6]  # steps 1-3 restored, not redone
    new = [json.loads(x)["step"] for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [s for s in new if s <= 6].count(1) == 1  # step 1 was logged once: it was not re-run


def test_unknown_target_module_is_a_clear_error(tiny_base: Path, faq_jsonl: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match="do not fit this model"):
        train(_cfg(tiny_base, faq_jsonl, tmp_path / "x", target_modules="wq,wk"), progress=False)
