"""LoRA / QLoRA supervised fine-tuning with TRL's ``SFTTrainer``, loss on assistant tokens only.

    finadvisor finetune train --data train.jsonl --out out/faq --max-steps 100

We hand ``SFTTrainer`` pre-tokenised rows (``input_ids`` + ``labels`` from :mod:`finadvisor.finetune.data`): TRL
uses a ``labels`` column as is, so our assistant-only mask survives, while TRL still supplies padding, packing,
checkpointing, resume, DeepSpeed and ``accelerate``/``torchrun`` multi-GPU. The output folder is a PEFT adapter
(what vLLM's ``--lora-modules`` loads) plus, when llama.cpp supports the architecture, ``adapter.gguf`` for our
default engine, and ``finadvisor_base.json`` recording the base model and the run.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finadvisor.errors import ConfigError
from finadvisor.extras import missing
from finadvisor.finetune.config import TrainConfig
from finadvisor.finetune.data import TokenizeStats, read_chatml, tokenize_dataset
from finadvisor.finetune.export import BASE_META, BaseShape, export_gguf_lora
from finadvisor.fsutil import DEFAULT_MODE, atomic_write
from finadvisor.hf_models import BaseSpec, load_base, resolve_base

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    out: Path
    steps: int
    train_loss: float | None
    first_loss: float | None
    last_loss: float | None
    seconds: float
    seconds_per_step: float | None
    stats: TokenizeStats
    gguf: str | None = None
    log_history: list[dict[str, Any]] = field(default_factory=list)


def _write_json(path: Path, payload: Any) -> None:
    atomic_write(path, json.dumps(payload, ensure_ascii=False, indent=2))


def qlora_config(spec: BaseSpec) -> Any:
    """The 4-bit NF4 config, or a ConfigError saying why QLoRA cannot run here."""
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(
            "--qlora needs a CUDA GPU (bitsandbytes 4-bit); on CPU train plain LoRA (drop --qlora)"
        )
    if spec.is_gguf:
        raise ConfigError("--qlora quantises an HF checkpoint; pass --base <HF folder>, not a GGUF")
    if missing("bitsandbytes"):
        raise ConfigError("--qlora needs bitsandbytes: pip install bitsandbytes", param="--qlora")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def _loss_logger(path: Path) -> Any:
    from transformers import TrainerCallback

    class JsonlLossLog(TrainerCallback):
        """Appends every logged record (loss, lr, grad norm, eval loss) to ``train_log.jsonl``."""

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
        ) -> None:
            if logs and state.is_world_process_zero:
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(
                        json.dumps({"step": state.global_step, "time": round(time.time(), 3), **logs}) + "\n"
                    )

    return JsonlLossLog()


def last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def lora_config(cfg: TrainConfig) -> Any:
    """PEFT's ``LoraConfig`` for ``cfg``: one keyword per line, so that none can hide inside a comment again."""
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,  # type: ignore[arg-type]  # peft accepts floats
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def sft_config(cfg: TrainConfig, *, cuda: bool, has_eval: bool, progress: bool = True) -> Any:
    """TRL's ``SFTConfig`` for ``cfg`` (``tests/finetune/test_config.py`` checks that every recipe field lands)."""
    from trl import SFTConfig

    ckpt_dir = Path(cfg.out) / "checkpoints"  # type: ignore[arg-type]
    return SFTConfig(
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        lr_scheduler_type=cfg.scheduler,
        # transformers 5 folded warmup_ratio into warmup_steps: a float in [0, 1) is a share of the total steps.
        warmup_steps=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=cfg.save_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        use_cpu=not cuda,
        bf16=cuda,
        max_length=cfg.max_length,
        packing=cfg.packing,
        # TRL's own default is gradient checkpointing ON, so False must be passed, not left out (it was, and
        # every run recomputed activations); ``activation_checkpointing`` is transformers 5's name for it.
        activation_checkpointing=cfg.gradient_checkpointing,
        disable_tqdm=not progress,
        deepspeed=str(cfg.deepspeed) if cfg.deepspeed else None,
        dataloader_num_workers=0,
    )


def build_peft_model(model: Any, cfg: TrainConfig) -> Any:
    from peft import get_peft_model

    try:
        return get_peft_model(model, lora_config(cfg))
    except ValueError as exc:
        names = sorted({n.rsplit(".", 1)[-1] for n, _ in model.named_modules() if n})
        raise ConfigError(
            f"LoRA target modules {cfg.target_modules} do not fit this model ({exc}); "
            f"module names include: {', '.join(names[:30])}"
        ) from exc


def train(cfg: TrainConfig, *, progress: bool = True) -> TrainResult:
    import torch
    from datasets import Dataset
    from trl import SFTTrainer

    cfg.validate()
    out = Path(cfg.out)  # type: ignore[arg-type]
    ckpt_dir = out / "checkpoints"
    resume_from = None
    if cfg.resume:
        resume_from = last_checkpoint(ckpt_dir)
        if resume_from is None:
            log.warning("--resume: no checkpoint under %s, starting from step 0", ckpt_dir)
    elif last_checkpoint(ckpt_dir) is not None:
        raise ConfigError(
            f"{ckpt_dir} already holds checkpoints; pass --resume to continue that run, "
            "or choose another --out"
        )
    if cfg.deepspeed is not None and not torch.cuda.is_available():
        raise ConfigError("--deepspeed needs CUDA GPUs; on CPU train without it")

    spec = resolve_base(cfg.base)
    quant = qlora_config(spec) if cfg.qlora else None
    model, tokenizer = load_base(spec, quantization_config=quant)
    if cfg.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    shape = BaseShape.from_config(model.config)

    rows, stats = tokenize_dataset(tokenizer, read_chatml(cfg.data), cfg.max_length)  # type: ignore[arg-type]
    log.info(
        "train: %d conversations, %d kept, %d truncated, %d assistant / %d tokens",
        stats.examples,
        stats.kept,
        stats.truncated,
        stats.assistant_tokens,
        stats.total_tokens,
    )
    eval_ds = None
    if cfg.eval_data is not None:
        eval_rows, _ = tokenize_dataset(tokenizer, read_chatml(cfg.eval_data), cfg.max_length)
        eval_ds = Dataset.from_list(eval_rows)

    peft_model = build_peft_model(model, cfg)
    cuda = torch.cuda.is_available()
    out.mkdir(parents=True, exist_ok=True)
    args = sft_config(cfg, cuda=cuda, has_eval=eval_ds is not None, progress=progress)
    trainer = SFTTrainer(
        model=peft_model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        callbacks=[_loss_logger(out / "train_log.jsonl")],
    )
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started

    if trainer.is_world_process_zero():
        trainer.model.save_pretrained(str(out))  # type: ignore[union-attr,operator]  # a PeftModel here
        tokenizer.save_pretrained(str(out))
        for written in out.glob("*.safetensors"):  # safetensors leaves 0600; fsutil's policy is 0644
            written.chmod(DEFAULT_MODE)
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    steps = int(trainer.state.global_step)
    meta = {
        "base": str(spec),
        "config": {
            "model_type": shape.model_type,
            "num_hidden_layers": shape.num_hidden_layers,
            "num_attention_heads": shape.num_attention_heads,
            "num_key_value_heads": shape.num_key_value_heads,
        },
        "train": cfg.to_dict(),
        "stats": vars(stats),
        "steps": steps,
        "train_loss": result.training_loss,
        "seconds": round(seconds, 2),
    }
    gguf_path = None
    if trainer.is_world_process_zero():
        _write_json(out / BASE_META, meta)
        if cfg.export_gguf and not cfg.qlora:
            try:
                gguf_path = export_gguf_lora(out, out / "adapter.gguf", shape)["path"]
            except ConfigError as exc:
                log.warning(
                    "no GGUF LoRA written (%s); vLLM and the transformers engine can still serve it", exc
                )
    new_steps = steps - (int(resume_from.rsplit("-", 1)[-1]) if resume_from else 0)
    return TrainResult(
        out=out,
        steps=steps,
        train_loss=result.training_loss,
        first_loss=losses[0] if losses else None,
        last_loss=losses[-1] if losses else None,
        seconds=seconds,
        seconds_per_step=seconds / new_steps if new_steps > 0 else None,
        stats=stats,
        gguf=gguf_path,
        log_history=list(trainer.state.log_history),
    )


def perplexity(model: Any, rows: list[dict[str, list[int]]]) -> float:
    """exp(mean NLL over labelled tokens), batch of one; used by tests and ``eval``."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row["input_ids"]], device=model.device)
            labels = torch.tensor([row["labels"]], device=model.device)
            n = int((labels[:, 1:] != -100).sum())
            if n == 0:
                continue
            total += float(model(input_ids=ids, labels=labels).loss) * n
            count += n
    return math.exp(total / max(count, 1))
