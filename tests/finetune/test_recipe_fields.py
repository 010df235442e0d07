"""Every recipe field reaches the trainer: none may be lost the way ``lora_dropout`` was (inside a comment).

A field set to a non-default value must show up in TRL's ``SFTConfig`` or PEFT's ``LoraConfig`` with that value,
or be one of the few fields that ``train()`` itself consumes (paths, base, resume, QLoRA, GGUF export). A new
field that is in neither list fails ``test_every_field_is_accounted_for``.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finadvisor.errors import ConfigError
from finadvisor.finetune.config import TrainConfig, build_config
from finadvisor.finetune.train import lora_config, sft_config, train

# recipe field -> [(which config, attribute, expected value from the recipe value)]
TO_SFT = {
    "batch_size": ["per_device_train_batch_size", "per_device_eval_batch_size"],
    "grad_accum": ["gradient_accumulation_steps"],
    "lr": ["learning_rate"],
    "scheduler": ["lr_scheduler_type"],
    "warmup_ratio": ["warmup_steps"],  # transformers 5: a float in [0, 1) is a ratio
    "weight_decay": ["weight_decay"],
    "epochs": ["num_train_epochs"],
    "max_steps": ["max_steps"],
    "logging_steps": ["logging_steps"],
    "save_steps": ["save_steps", "eval_steps"],
    "save_total_limit": ["save_total_limit"],
    "seed": ["seed", "data_seed"],
    "max_length": ["max_length"],
    "packing": ["packing"],
    "gradient_checkpointing": ["gradient_checkpointing"],
}
TO_LORA = {"rank": "r", "alpha": "lora_alpha", "dropout": "lora_dropout", "target_modules": "target_modules"}
# consumed by train() itself; each has its own test (test_train.py, test_config.py, below)
IN_TRAIN = {"data", "out", "eval_data", "base", "resume", "qlora", "deepspeed", "export_gguf"}

NON_DEFAULT = dict(
    rank=5,
    alpha=7.0,
    dropout=0.13,
    target_modules=["q_proj", "v_proj"],
    lr=1.23e-4,
    scheduler="linear",
    warmup_ratio=0.07,
    weight_decay=0.011,
    epochs=2.5,
    max_steps=17,
    batch_size=3,
    grad_accum=4,
    max_length=77,
    packing=True,
    seed=41,
    save_steps=9,
    save_total_limit=2,
    logging_steps=3,
    gradient_checkpointing=True,
)


def test_every_field_is_accounted_for():
    names = {f.name for f in fields(TrainConfig)}
    mapped = set(TO_SFT) | set(TO_LORA) | IN_TRAIN
    assert names == mapped, f"unmapped: {sorted(names - mapped)}, stale: {sorted(mapped - names)}"
    assert set(NON_DEFAULT) == set(TO_SFT) | set(TO_LORA)
    defaults = TrainConfig()
    for key, value in NON_DEFAULT.items():
        assert getattr(defaults, key) != value, f"{key}: pick a non-default value, or the test cannot fail"


def test_each_field_lands_in_sft_or_lora_config(tmp_path: Path):
    (tmp_path / "d.jsonl").write_text("")
    cfg = build_config(data=tmp_path / "d.jsonl", out=tmp_path / "o", **NON_DEFAULT)
    sft = sft_config(cfg, cuda=False, has_eval=True, progress=False)
    lora = lora_config(cfg)
    for key, attrs in TO_SFT.items():
        for attr in attrs:
            got = getattr(sft, attr)
            got = getattr(got, "value", got)  # enums (lr_scheduler_type)
            assert got == getattr(cfg, key), f"{key} -> SFTConfig.{attr}: {got!r} != {getattr(cfg, key)!r}"
    for key, attr in TO_LORA.items():
        got = getattr(lora, attr)
        want = getattr(cfg, key)
        assert (sorted(got) if key == "target_modules" else got) == (
            sorted(want) if key == "target_modules" else want
        )
    assert sft.output_dir == str(tmp_path / "o" / "checkpoints")
    assert sft.eval_strategy.value == "steps" and sft.use_cpu is True


def test_gradient_checkpointing_off_stays_off(tmp_path: Path):
    """TRL's SFTConfig defaults it to True: leaving the flag out (as train.py once did) silently turned it on."""
    (tmp_path / "d.jsonl").write_text("")
    cfg = build_config(data=tmp_path / "d.jsonl", out=tmp_path / "o")
    assert cfg.gradient_checkpointing is False
    assert sft_config(cfg, cuda=False, has_eval=False).gradient_checkpointing is False


def test_every_field_has_a_cli_flag():
    import typer.main

    from finadvisor.finetune.cli import app

    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    params = {p.name for p in command.params}
    wanted = {f.name for f in fields(TrainConfig)} - {"export_gguf"} | {"gguf", "recipe"}
    assert wanted <= params, sorted(wanted - params)


def test_deepspeed_on_cpu_is_refused(tiny_base: Path, faq_jsonl: Path, tmp_path: Path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    ds = Path(__file__).resolve().parents[2] / "recipes" / "ds_zero3.json"
    cfg = build_config(data=faq_jsonl, out=tmp_path / "o", base=str(tiny_base), deepspeed=ds)
    with pytest.raises(ConfigError, match="--deepspeed needs CUDA"):
        train(cfg, progress=False)


def test_cli_recipe_dropout_reaches_the_saved_adapter(tiny_base: Path, faq_jsonl: Path, tmp_path: Path):
    """The bug as a user met it: recipe ``dropout`` and ``--dropout`` must end up in adapter_config.json."""
    from finadvisor.finetune.cli import app

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"data: {faq_jsonl}\nbase: {tiny_base}\nrank: 4\nalpha: 8\ndropout: 0.11\nmax_steps: 1\n"
        "max_length: 96\nsave_steps: 1\nwarmup_ratio: 0.0\n"
    )
    result = CliRunner().invoke(
        app, ["train", "--recipe", str(recipe), "--out", str(tmp_path / "a"), "--no-gguf"]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert saved["lora_dropout"] == 0.11 and saved["r"] == 4 and saved["lora_alpha"] == 8
    meta = json.loads((tmp_path / "a" / "finadvisor_base.json").read_text())
    assert meta["train"]["dropout"] == 0.11
    assert (
        tmp_path / "a" / "adapter_model.safetensors"
    ).stat().st_mode & 0o777 == 0o644  # readable by a server

    result = CliRunner().invoke(
        app, ["train", "--recipe", str(recipe), "--out", str(tmp_path / "b"), "--dropout", "0.2", "--no-gguf"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "b" / "adapter_config.json").read_text())["lora_dropout"] == 0.2
