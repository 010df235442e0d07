"""Convert a PEFT LoRA adapter into a GGUF LoRA that llama.cpp (our default engine) applies at run time.

    finadvisor finetune export-gguf --adapter out/faq --out out/faq/adapter.gguf

We follow llama.cpp's ``convert_lora_to_gguf.py`` conventions, written directly with the ``gguf`` package so that
no llama.cpp checkout is needed:

* metadata ``general.architecture`` = the base's arch, ``general.type = "adapter"``, ``adapter.type = "lora"``,
  ``adapter.lora.alpha`` = PEFT's ``lora_alpha`` (llama.cpp scales by alpha / rank, as PEFT does);
* for each adapted weight ``W`` (HF ``model.layers.N.self_attn.q_proj``, GGUF ``blk.N.attn_q.weight``) two
  tensors ``blk.N.attn_q.weight.lora_a`` = PEFT ``lora_A`` and ``.lora_b`` = PEFT ``lora_B``, untransposed: torch
  shapes (r, in) and (out, r) become ggml shapes [in, r] and [r, out], which is what llama.cpp checks against
  the base weight's [in, out];
* for llama-arch models, whose q/k weights ``convert_hf_to_gguf`` permutes for its rope layout, ``lora_B`` of
  q/k gets the same row permutation.

rsLoRA is mapped exactly by rescaling alpha (alpha/sqrt(r) == alpha'/r). DoRA, per-module alpha, embedding LoRA
and ``modules_to_save`` have no llama.cpp equivalent and are refused with an explanation.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finadvisor.errors import ConfigError
from finadvisor.fsutil import atomic_temp_path

PERMUTED_ARCHS = {"llama"}  # llama.cpp re-orders q/k rows for these (see module docstring)
ARCH_ALIASES = {"mistral": "llama"}
BASE_META = "finadvisor_base.json"  # written next to the adapter at training time


@dataclass(frozen=True)
class BaseShape:
    model_type: str
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int

    @classmethod
    def from_config(cls, config: Any) -> BaseShape:
        get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)

        def need(key: str) -> int:
            value = get(key)
            if value is None:
                raise ConfigError(f"the model config has no {key!r}; cannot export this architecture")
            return int(value)

        heads = need("num_attention_heads")
        return cls(
            str(get("model_type")), need("num_hidden_layers"), heads, int(get("num_key_value_heads") or heads)
        )


def read_base_shape(adapter_dir: Path) -> BaseShape | None:
    meta = Path(adapter_dir) / BASE_META
    if meta.is_file():
        return BaseShape.from_config(json.loads(meta.read_text())["config"])
    return None


def _gguf_arch(model_type: str) -> Any:
    import gguf

    name = ARCH_ALIASES.get(model_type, model_type)
    for arch, arch_name in gguf.MODEL_ARCH_NAMES.items():
        if arch_name == name:
            return arch
    raise ConfigError(
        f"llama.cpp has no architecture named {name!r} (model_type {model_type!r}); "
        "serve this adapter with vLLM or the transformers engine instead"
    )


def _permute_rows(b: Any, n_head: int) -> Any:
    return b.reshape(n_head, 2, b.shape[0] // n_head // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def load_adapter_tensors(adapter_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(adapter_config, {name: numpy array}) from a PEFT adapter folder."""
    adapter_dir = Path(adapter_dir)
    cfg_path = adapter_dir / "adapter_config.json"
    if not cfg_path.is_file():
        raise ConfigError(
            f"{adapter_dir} is not a PEFT adapter (no adapter_config.json); "
            "pass the --out folder of 'finadvisor finetune train'"
        )
    config = json.loads(cfg_path.read_text())
    st = adapter_dir / "adapter_model.safetensors"
    if st.is_file():
        from safetensors.torch import load_file

        tensors = load_file(str(st))
    elif (adapter_dir / "adapter_model.bin").is_file():
        import torch

        tensors = torch.load(adapter_dir / "adapter_model.bin", map_location="cpu", weights_only=True)
    else:
        raise ConfigError(f"{adapter_dir} has adapter_config.json but no adapter_model.safetensors")
    return config, {k: v.float().numpy() for k, v in tensors.items()}


def export_gguf_lora(
    adapter_dir: Path, out: Path, shape: BaseShape, *, outtype: str = "f32"
) -> dict[str, Any]:
    """Write ``out`` atomically; returns a summary (tensor count, rank, alpha, bytes)."""
    import gguf
    import numpy as np

    config, tensors = load_adapter_tensors(adapter_dir)
    if config.get("peft_type", "LORA") != "LORA":
        raise ConfigError(f"adapter type {config.get('peft_type')} is not LoRA; only LoRA converts to GGUF")
    if config.get("use_dora"):
        raise ConfigError("DoRA adapters have no llama.cpp equivalent; merge it ('finetune merge') instead")
    if config.get("alpha_pattern"):
        raise ConfigError("per-module lora_alpha (alpha_pattern) cannot be expressed in a GGUF LoRA")
    if config.get("modules_to_save"):
        raise ConfigError("the adapter also trains full modules (modules_to_save); merge it instead")
    rank = int(config["r"])
    alpha = float(config["lora_alpha"])
    if config.get("use_rslora"):
        alpha = alpha * math.sqrt(rank)  # rsLoRA scales by alpha/sqrt(r); llama.cpp by alpha/r
    arch = _gguf_arch(shape.model_type)
    names = gguf.get_tensor_name_map(arch, shape.num_hidden_layers)
    dtype = {"f32": np.float32, "f16": np.float16}.get(outtype)
    if dtype is None:
        raise ConfigError(f"--outtype must be f32 or f16, got {outtype!r}")

    pairs: dict[str, dict[str, Any]] = {}
    for key, value in tensors.items():
        m = re.fullmatch(r"(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight", key)
        if m is None:
            if "lora_embedding" in key:
                raise ConfigError(
                    "LoRA on embeddings is not supported by the GGUF export; "
                    "drop embed_tokens from --target-modules"
                )
            raise ConfigError(f"unexpected tensor {key} in the adapter; only lora_A/lora_B are convertible")
        module, side = m.group(1), m.group(2).lower()
        dest = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if dest is None:
            raise ConfigError(f"no llama.cpp tensor corresponds to {module} ({shape.model_type})")
        if side == "b" and ARCH_ALIASES.get(shape.model_type, shape.model_type) in PERMUTED_ARCHS:
            if module.endswith("q_proj"):
                value = _permute_rows(value, shape.num_attention_heads)
            elif module.endswith("k_proj"):
                value = _permute_rows(value, shape.num_key_value_heads)
        pairs.setdefault(dest, {})[side] = value
    if not pairs:
        raise ConfigError(f"{adapter_dir} holds no LoRA tensors")
    lonely = sorted(k for k, v in pairs.items() if len(v) != 2)
    if lonely:
        raise ConfigError(f"adapter tensors come without their lora_A/lora_B partner: {lonely[:3]}")

    out = Path(out)
    with atomic_temp_path(out) as tmp:
        writer = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[arch])
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_name(f"{Path(adapter_dir).name} LoRA")
        for dest, halves in sorted(pairs.items()):
            a, b = halves["a"], halves["b"]
            if a.shape[0] != b.shape[1]:
                raise ConfigError(f"{dest}: lora_A rank {a.shape[0]} != lora_B rank {b.shape[1]}")
            writer.add_tensor(f"{dest}.lora_a", np.ascontiguousarray(a.astype(dtype)))
            writer.add_tensor(f"{dest}.lora_b", np.ascontiguousarray(b.astype(dtype)))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return {
        "path": str(out),
        "tensors": 2 * len(pairs),
        "rank": rank,
        "alpha": alpha,
        "arch": gguf.MODEL_ARCH_NAMES[arch],
        "bytes": out.stat().st_size,
    }
