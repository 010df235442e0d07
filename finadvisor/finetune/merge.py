"""Merge a LoRA adapter into its base and save a standalone HF model (for users who want one folder).

    finadvisor finetune merge --adapter out/faq --out out/faq-merged

The merged weights are fp32 when the base was a GGUF (transformers dequantises it). Serve the result with
``--engine transformers --model out/faq-merged`` or vLLM, or convert it to GGUF with llama.cpp's
``convert_hf_to_gguf.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from finadvisor.errors import ConfigError
from finadvisor.finetune.export import BASE_META
from finadvisor.fsutil import fsync_dir
from finadvisor.hf_models import BaseSpec, load_base, resolve_base


def adapter_base(adapter_dir: Path, base: str | None, cache_dir: Path | None = None) -> BaseSpec:
    """The base to load under ``adapter_dir``: ``--base`` if given, else the one recorded at training time."""
    if base is not None:
        return resolve_base(base, cache_dir)
    meta = Path(adapter_dir) / BASE_META
    if meta.is_file():
        recorded = json.loads(meta.read_text()).get("base")
        if recorded and Path(recorded).exists():
            return resolve_base(recorded, cache_dir)
    return resolve_base(None, cache_dir)


def merge_adapter(adapter_dir: Path, out: Path, base: str | None = None) -> Path:
    from peft import PeftModel

    adapter_dir, out = Path(adapter_dir), Path(out)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ConfigError(f"{adapter_dir} is not a PEFT adapter folder (no adapter_config.json)")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} exists and is not empty; choose a new --out")
    model, tokenizer = load_base(adapter_base(adapter_dir, base))
    try:
        merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"adapter {adapter_dir} does not fit the base model: {exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    # A folder, not a file: fsutil.atomic_write does not apply; same recipe (same-folder temp, rename, fsync).
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        merged.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; the merged model is an ordinary folder
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
        fsync_dir(out.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out
