"""Recipe precedence and option validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from finadvisor.errors import ConfigError
from finadvisor.finetune.config import build_config, load_recipe
from finadvisor.hf_models import resolve_base

ROOT = Path(__file__).resolve().parents[2]


def test_flags_override_recipe_which_overrides_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text("")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "rank: 16\nalpha: 32\nlr: 0.001\ntarget_modules: q_proj,v_proj\ndata: d.jsonl\nout: o\n"
    )
    cfg = build_config(recipe, rank=4, lr=None)
    assert cfg.rank == 4  # flag wins
    assert cfg.alpha == 32 and cfg.lr == 0.001  # recipe wins over defaults
    assert cfg.target_modules == ["q_proj", "v_proj"]
    assert cfg.dropout == 0.05 and cfg.data == Path("d.jsonl")


def test_unknown_recipe_keys_and_bad_values_are_errors(tmp_path: Path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("rnak: 16\n")
    with pytest.raises(ConfigError, match=r"unknown keys \['rnak'\]"):
        load_recipe(recipe)
    with pytest.raises(ConfigError, match="--data is required"):
        build_config(out=tmp_path)
    with pytest.raises(ConfigError, match="--scheduler must be one of"):
        build_config(data=tmp_path / "d", out=tmp_path, scheduler="wobbly")
    with pytest.raises(ConfigError, match="--data .* does not exist"):
        build_config(data=tmp_path / "d", out=tmp_path)
    (tmp_path / "d").write_text("")
    with pytest.raises(ConfigError, match="--eval-data .* does not exist"):
        build_config(data=tmp_path / "d", out=tmp_path, eval_data=tmp_path / "e")
    with pytest.raises(ConfigError, match="DeepSpeed config"):
        build_config(data=tmp_path / "d", out=tmp_path, deepspeed=tmp_path / "nope.json")
    assert build_config(data=tmp_path / "d", out=tmp_path, deepspeed=ROOT / "recipes" / "ds_zero3.json")


def test_shipped_recipe_loads_and_documents_its_command():
    path = ROOT / "recipes" / "qwen05b-lora.yaml"
    assert "finadvisor finetune train --recipe recipes/qwen05b-lora.yaml" in path.read_text()
    from finadvisor.finetune.config import TrainConfig, _coerce

    raw = load_recipe(path)  # unknown keys would raise here
    cfg = TrainConfig(**{k: _coerce(k, v) for k, v in raw.items()})
    assert cfg.rank == 16 and cfg.data == Path("data/faq/train.jsonl") and cfg.base is None


def test_qlora_on_cpu_is_a_clear_error(tiny_base: Path, faq_jsonl: Path, tmp_path: Path):
    import torch

    from finadvisor.finetune.train import train

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    cfg = build_config(data=faq_jsonl, out=tmp_path / "o", base=str(tiny_base), qlora=True)
    with pytest.raises(ConfigError, match="--qlora needs a CUDA GPU"):
        train(cfg, progress=False)


def test_base_resolution(tmp_path: Path, tiny_base: Path, tiny_gguf: Path):
    assert resolve_base(str(tiny_base)).gguf_file is None
    spec = resolve_base(str(tiny_gguf))
    assert spec.is_gguf and spec.folder == tiny_gguf.parent
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_base(str(tmp_path / "nope"))
    (tmp_path / "x.bin").write_text("x")
    with pytest.raises(ConfigError, match="not a .gguf"):
        resolve_base(str(tmp_path / "x.bin"))
