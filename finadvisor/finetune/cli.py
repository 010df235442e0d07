"""``finadvisor finetune``: train, eval, export-gguf, merge. Wiring only; the logic lives in the sibling modules.

Options default to None so that only flags the user gave override the recipe (defaults < recipe < flags).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated, Literal

import typer

from finadvisor.errors import ConfigError
from finadvisor.extras import ML, require_extra

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="LoRA fine-tuning: train on ChatML JSONL, evaluate, export to GGUF, merge.",
)

Opt = typer.Option


@app.command()
def train(
    data: Annotated[Path | None, Opt(help="Training ChatML JSONL ('finadvisor dataset build').")] = None,
    out: Annotated[
        Path | None, Opt(help="Adapter folder to write (checkpoints in <out>/checkpoints).")
    ] = None,
    eval_data: Annotated[Path | None, Opt(help="Held-out ChatML JSONL for eval loss.")] = None,
    base: Annotated[
        str | None, Opt(help="HF folder or GGUF; default: the packaged Qwen2.5 0.5B GGUF.")
    ] = None,
    recipe: Annotated[Path | None, Opt(help="YAML recipe (keys = option names with underscores).")] = None,
    rank: Annotated[int | None, Opt(help="LoRA rank r. [default: 8]")] = None,
    alpha: Annotated[float | None, Opt(help="LoRA alpha. [default: 16]")] = None,
    dropout: Annotated[float | None, Opt(help="LoRA dropout. [default: 0.05]")] = None,
    target_modules: Annotated[
        str | None, Opt(help="Comma-separated module names. [default: q,k,v,o_proj]")
    ] = None,
    lr: Annotated[float | None, Opt(help="Learning rate. [default: 2e-4]")] = None,
    scheduler: Annotated[
        str | None, Opt(help="LR schedule: cosine, linear, constant... [default: cosine]")
    ] = None,
    warmup_ratio: Annotated[
        float | None, Opt(help="Share of the steps spent warming up. [default: 0.03]")
    ] = None,
    weight_decay: Annotated[float | None, Opt(help="AdamW weight decay. [default: 0]")] = None,
    epochs: Annotated[float | None, Opt(help="Epochs (ignored when --max-steps > 0). [default: 1]")] = None,
    max_steps: Annotated[int | None, Opt(help="Optimizer steps; overrides --epochs.")] = None,
    batch_size: Annotated[int | None, Opt(help="Per-device batch size. [default: 2]")] = None,
    grad_accum: Annotated[int | None, Opt(help="Gradient accumulation steps. [default: 1]")] = None,
    max_length: Annotated[int | None, Opt(help="Max tokens per example. [default: 256]")] = None,
    packing: Annotated[bool | None, Opt("--packing/--no-packing", help="Pack examples (BFD).")] = None,
    seed: Annotated[int | None, Opt(help="Random seed. [default: 0]")] = None,
    save_steps: Annotated[int | None, Opt(help="Checkpoint (and eval) every N steps. [default: 50]")] = None,
    save_total_limit: Annotated[int | None, Opt(help="Checkpoints kept. [default: 3]")] = None,
    logging_steps: Annotated[int | None, Opt(help="Log loss every N steps. [default: 1]")] = None,
    resume: Annotated[
        bool | None, Opt("--resume/--no-resume", help="Continue from the last checkpoint.")
    ] = None,
    qlora: Annotated[
        bool | None, Opt("--qlora/--no-qlora", help="4-bit QLoRA (CUDA + bitsandbytes).")
    ] = None,
    deepspeed: Annotated[Path | None, Opt(help="DeepSpeed JSON (GPU), e.g. recipes/ds_zero3.json.")] = None,
    gradient_checkpointing: Annotated[
        bool | None,
        Opt(
            "--gradient-checkpointing/--no-gradient-checkpointing",
            help="Recompute activations to save memory.",
        ),
    ] = None,
    gguf: Annotated[bool | None, Opt("--gguf/--no-gguf", help="Also write <out>/adapter.gguf.")] = None,
) -> None:
    """Fine-tune a LoRA adapter with the loss on assistant tokens only."""
    require_extra("ml", "finadvisor finetune train", *ML)
    from finadvisor.finetune.config import build_config
    from finadvisor.finetune.train import train as run_train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = build_config(
        recipe,
        data=data,
        out=out,
        eval_data=eval_data,
        base=base,
        rank=rank,
        alpha=alpha,
        dropout=dropout,
        target_modules=target_modules,
        lr=lr,
        scheduler=scheduler,
        warmup_ratio=warmup_ratio,
        weight_decay=weight_decay,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_length=max_length,
        packing=packing,
        seed=seed,
        save_steps=save_steps,
        save_total_limit=save_total_limit,
        logging_steps=logging_steps,
        resume=resume,
        qlora=qlora,
        deepspeed=deepspeed,
        gradient_checkpointing=gradient_checkpointing,
        export_gguf=gguf,
    )
    result = run_train(cfg)
    typer.echo(
        f"trained {result.steps} steps in {result.seconds:.1f} s; loss {result.first_loss} -> "
        f"{result.last_loss}; adapter: {result.out}" + (f"; GGUF LoRA: {result.gguf}" if result.gguf else "")
    )


@app.command("export-gguf")
def export_gguf(
    adapter: Annotated[Path, Opt(help="PEFT adapter folder.")],
    out: Annotated[Path | None, Opt(help="GGUF LoRA to write. [default: <adapter>/adapter.gguf]")] = None,
    base: Annotated[
        str | None, Opt(help="Base model (needed only if the adapter has no finadvisor_base.json).")
    ] = None,
    outtype: Annotated[str, Opt(help="f32 or f16.")] = "f32",
) -> None:
    """Convert a PEFT LoRA to a GGUF LoRA for llama.cpp (finadvisor serve --lora NAME=FILE)."""
    require_extra("ml", "finadvisor finetune export-gguf", "torch", "safetensors", "gguf", "transformers")
    from finadvisor.finetune.export import BaseShape, export_gguf_lora, read_base_shape

    shape = read_base_shape(adapter)
    if shape is None or base is not None:
        from transformers import AutoConfig

        from finadvisor.finetune.merge import adapter_base

        spec = adapter_base(adapter, base)
        shape = BaseShape.from_config(AutoConfig.from_pretrained(str(spec.folder), gguf_file=spec.gguf_file))
    info = export_gguf_lora(adapter, out or Path(adapter) / "adapter.gguf", shape, outtype=outtype)
    typer.echo(json.dumps(info))


@app.command()
def merge(
    adapter: Annotated[Path, Opt(help="PEFT adapter folder.")],
    out: Annotated[Path, Opt(help="Folder for the merged HF model.")],
    base: Annotated[str | None, Opt(help="Base model; default: the one recorded at training time.")] = None,
) -> None:
    """Merge the adapter into the base and save a standalone HF model."""
    require_extra("ml", "finadvisor finetune merge", "torch", "transformers", "peft")
    from finadvisor.finetune.merge import merge_adapter

    typer.echo(f"merged model written to {merge_adapter(adapter, out, base)}")


@app.command("eval")
def eval_cmd(
    data: Annotated[Path, Opt(help="Held-out ChatML JSONL.")],
    adapter: Annotated[Path | None, Opt(help="PEFT adapter folder; omit to score the base only.")] = None,
    base: Annotated[str | None, Opt(help="Base model; default: the adapter's recorded base.")] = None,
    engine: Annotated[
        Literal["llamacpp", "transformers"] | None,
        Opt(help="llamacpp (GGUF base) or transformers.", show_default="by base"),
    ] = None,
    limit: Annotated[int | None, Opt(help="Evaluate only the first N pairs.")] = None,
    max_tokens: Annotated[int, Opt(help="Max tokens per answer.")] = 192,
    report: Annotated[Path | None, Opt(help="Write per-example outputs and scores as JSON here.")] = None,
) -> None:
    """Base vs adapter on held-out pairs: ROUGE-L and embedding cosine, side by side."""
    from finadvisor.finetune.evaluate import format_table, generate_all, load_examples, score

    examples = load_examples(data, limit)
    eng = make_eval_engine(adapter, base, engine)
    systems: dict[str, str | None] = {"base": None}
    if adapter is not None:
        systems["adapter"] = "adapter"

    async def run() -> None:
        await eng.start()
        try:
            await generate_all(
                eng, examples, systems, max_tokens=max_tokens, concurrency=4 if eng.name == "llamacpp" else 1
            )
        finally:
            await eng.close()

    asyncio.run(run())
    result = score(examples, list(systems))
    typer.echo(format_table(result))
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(
            json.dumps(
                {
                    "summary": result.summary(),
                    "verdict": result.verdict(),
                    "examples": [vars(ex) for ex in examples],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    typer.echo(json.dumps(result.summary()))


def make_eval_engine(adapter: Path | None, base: str | None, kind: str | None):
    """llama.cpp + GGUF LoRA for GGUF bases (fast, batched), transformers + PEFT otherwise."""
    from finadvisor.finetune.merge import adapter_base

    spec = adapter_base(adapter, base) if adapter is not None else adapter_base(Path("."), base)
    kind = kind or ("llamacpp" if spec.is_gguf else "transformers")
    if kind == "llamacpp":
        from finadvisor.engines.llamacpp import LlamaCppEngine
        from finadvisor.settings import default_cache_dir

        if not spec.is_gguf:
            raise ConfigError("--engine llamacpp needs a GGUF base; use --engine transformers for HF folders")
        lora = []
        if adapter is not None:
            gguf_file = Path(adapter) / "adapter.gguf"
            if not gguf_file.is_file():
                raise ConfigError(
                    f"{gguf_file} is missing; run 'finadvisor finetune export-gguf --adapter "
                    f"{adapter}' or use --engine transformers"
                )
            lora = [f"adapter={gguf_file}"]
        return LlamaCppEngine(
            Path(str(spec)),
            cache_dir=default_cache_dir(),
            n_ctx=4096,
            n_parallel=4,
            lora=lora,
            flash_attn=False,
        )
    if kind == "transformers":
        require_extra("ml", "finadvisor finetune eval --engine transformers", "torch", "transformers", "peft")
        from finadvisor.engines.transformers import TransformersEngine

        return TransformersEngine(str(spec), lora=[f"adapter={adapter}"] if adapter is not None else [])
    raise ConfigError(f"--engine must be llamacpp or transformers, got {kind!r}")
