"""Load a base causal LM for training, merging, evaluation and the transformers engine.

A base is either a local Hugging Face folder (``config.json`` + weights), or a GGUF file (or a folder holding
exactly one), which transformers dequantises to fp32. Nothing is fetched from a hub: ``HF_HUB_OFFLINE=1`` is
set before transformers is imported. ``None`` means the packaged default model (Qwen2.5-Coder-0.5B GGUF).

A GGUF-loaded model carries transformers' ``GgufHfQuantizer`` marker, which makes ``save_pretrained`` and PEFT
training refuse it ("quantized with gguf and is not serializable") although its weights are plain fp32 tensors.
``clear_gguf_marker`` drops that marker in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finadvisor.errors import ConfigError

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass(frozen=True)
class BaseSpec:
    """Where a base model lives: ``folder`` plus, for GGUF, the file name inside it."""

    folder: Path
    gguf_file: str | None = None

    @property
    def is_gguf(self) -> bool:
        return self.gguf_file is not None

    def __str__(self) -> str:
        return str(self.folder / self.gguf_file) if self.gguf_file else str(self.folder)


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def resolve_base(base: str | Path | None, cache_dir: Path | None = None) -> BaseSpec:
    """Turn a user's ``--base`` into a :class:`BaseSpec`; ``None`` is the packaged default GGUF."""
    if base is None:
        from finadvisor.models import default_model_path
        from finadvisor.settings import default_cache_dir

        path = default_model_path(cache_dir or default_cache_dir())
        return BaseSpec(path.parent, path.name)
    path = Path(base).expanduser()
    if not path.exists():
        raise ConfigError(
            f"base model {path} does not exist; pass a local HF folder or a GGUF file "
            "(or omit --base for the packaged default)"
        )
    if path.is_file():
        if path.suffix != ".gguf":
            raise ConfigError(f"{path} is a file but not a .gguf; pass a GGUF file or an HF model folder")
        return BaseSpec(path.parent, path.name)
    if (path / "config.json").is_file():
        return BaseSpec(path)
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return BaseSpec(path, ggufs[0].name)
    raise ConfigError(
        f"{path} has no config.json and {len(ggufs)} .gguf files; pass an HF model folder "
        "(with config.json) or one GGUF file"
    )


def clear_gguf_marker(model: Any) -> Any:
    """Make a GGUF-dequantised model an ordinary fp32 model (trainable, savable). Idempotent."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and type(quantizer).__name__ == "GgufHfQuantizer":
        model.hf_quantizer = None
        for attr in ("is_quantized", "_is_quantized_training_enabled"):
            if attr in vars(model):
                delattr(model, attr)
    config = getattr(model, "config", None)
    qc = getattr(config, "quantization_config", None)
    if qc is not None:
        method = qc.get("quant_method") if isinstance(qc, dict) else getattr(qc, "quant_method", None)
        if config is not None and str(getattr(method, "value", method)).lower() == "gguf":
            del config.quantization_config
    return model


def load_tokenizer(spec: BaseSpec) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(spec.folder), gguf_file=spec.gguf_file)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"could not load a tokenizer from {spec}: {exc}") from exc
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_base(
    spec: BaseSpec, *, device: str | None = None, dtype: Any = None, quantization_config: Any = None
) -> tuple[Any, Any]:
    """(model, tokenizer) for ``spec``; GGUF weights come back dequantised and unmarked."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(available_cores())
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype is None:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    tokenizer = load_tokenizer(spec)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
        kwargs["device_map"] = {"": 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(str(spec.folder), **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"could not load a causal LM from {spec}: {exc}") from exc
    clear_gguf_marker(model)
    if quantization_config is None:
        model.to(device)  # type: ignore[arg-type]  # transformers types .to() oddly
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def base_model_type(spec: BaseSpec) -> str:
    """The HF ``model_type`` (e.g. ``qwen2``), read without loading weights."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(spec.folder), gguf_file=spec.gguf_file)
    return str(config.model_type)
