"""Training configuration: defaults < recipe YAML < CLI flags.

A recipe is a flat YAML mapping whose keys are the fields of :class:`TrainConfig` (``recipes/qwen05b-lora.yaml``
shows one, with the command that runs it in its header). Unknown keys are errors, so a typo never silently falls
back to a default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from finadvisor.errors import ConfigError

SEED_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SCHEDULERS = {"linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"}


@dataclass
class TrainConfig:
    data: Path | None = None  # ChatML JSONL (required)
    out: Path | None = None  # adapter folder (required); checkpoints go to <out>/checkpoints
    eval_data: Path | None = None  # held-out ChatML JSONL, evaluated (loss) every save
    base: str | None = None  # HF folder or GGUF file; None = packaged Qwen2.5-Coder-0.5B GGUF
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    lr: float = 2e-4
    scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 2
    grad_accum: int = 1
    max_length: int = 256
    packing: bool = False
    seed: int = 0
    save_steps: int = 50
    save_total_limit: int = 3
    logging_steps: int = 1
    resume: bool = False
    qlora: bool = False
    deepspeed: Path | None = None
    gradient_checkpointing: bool = False
    export_gguf: bool = True  # also write <out>/adapter.gguf for llama.cpp when the arch is supported

    def validate(self) -> TrainConfig:
        if self.data is None:
            raise ConfigError(
                "--data is required (a ChatML JSONL from 'finadvisor dataset build')", param="--data"
            )
        if self.out is None:
            raise ConfigError("--out is required (the adapter folder to write)", param="--out")
        checks = [
            (self.rank >= 1, "--rank must be >= 1"),
            (self.alpha > 0, "--alpha must be > 0"),
            (0 <= self.dropout < 1, "--dropout must be in [0, 1)"),
            (self.lr > 0, "--lr must be > 0"),
            (0 <= self.warmup_ratio < 1, "--warmup-ratio must be in [0, 1) (a share of the total steps)"),
            (self.weight_decay >= 0, "--weight-decay must be >= 0"),
            (
                self.logging_steps >= 1 and self.save_total_limit >= 1,
                "--logging-steps and --save-total-limit must be >= 1",
            ),
            (self.epochs > 0, "--epochs must be > 0"),
            (self.batch_size >= 1 and self.grad_accum >= 1, "--batch-size and --grad-accum must be >= 1"),
            (self.max_length >= 16, "--max-length must be >= 16"),
            (self.save_steps >= 1, "--save-steps must be >= 1"),
            (bool(self.target_modules), "--target-modules must name at least one module"),
            (self.scheduler in SCHEDULERS, f"--scheduler must be one of {sorted(SCHEDULERS)}"),
        ]
        for ok, message in checks:
            if not ok:  # a flag's value is wrong: a usage error (exit 2), named by param
                raise ConfigError(message, param=message.split(" ", 1)[0])
        for flag, path in (("--data", self.data), ("--eval-data", self.eval_data)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(
                    f"{flag} {path} does not exist; build it with 'finadvisor dataset build'", param=flag
                )
        if self.deepspeed is not None and not Path(self.deepspeed).is_file():
            raise ConfigError(
                f"DeepSpeed config {self.deepspeed} does not exist (see recipes/ds_zero3.json)",
                param="--deepspeed",
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


_PATHS = {"data", "out", "eval_data", "deepspeed"}


def _coerce(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in _PATHS:
        return Path(str(value)).expanduser()
    if key == "target_modules" and isinstance(value, str):
        return [m.strip() for m in value.split(",") if m.strip()]
    if key == "base":
        return str(value)
    return value


def load_recipe(path: Path) -> dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe {path} must be a mapping of option: value")
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"recipe {path} has unknown keys {unknown}; known: {sorted(known)}", param="--recipe"
        )
    # Relative paths in a recipe are relative to the working directory (where the command runs).
    return raw


def build_config(recipe: Path | None = None, **flags: Any) -> TrainConfig:
    """Defaults, then the recipe, then the flags that were given (None = not given)."""
    values: dict[str, Any] = {}
    if recipe is not None:
        values.update(load_recipe(recipe))
    values.update({k: v for k, v in flags.items() if v is not None})
    return TrainConfig(**{k: _coerce(k, v) for k, v in values.items()}).validate()
