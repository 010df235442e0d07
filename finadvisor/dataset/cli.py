# ruff: noqa: B008  (Typer declares options as call defaults; that is its documented idiom)
"""``finadvisor dataset …``: build, generate and inspect fine-tuning datasets. Wiring only; logic lives in
``build.py``, ``generate.py`` and ``stats.py``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from finadvisor.dataset.chatml import DEFAULT_SYSTEM_PROMPT

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Build a ChatML fine-tuning dataset from FAQ pages, Next.js data and text.",
)


@app.command()
def build(
    sources: list[str] = typer.Argument(..., help="Files, folders or http(s) URLs."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output ChatML JSONL (train split when --eval-out is given)."
    ),
    eval_out: Path | None = typer.Option(None, "--eval-out", help="Write a held-out split here."),
    eval_ratio: float = typer.Option(0.1, "--eval-ratio", help="Share of pairs sent to --eval-out."),
    seed: int = typer.Option(0, "--seed", help="Seed of the deterministic train/eval split."),
    system_prompt: str = typer.Option(
        DEFAULT_SYSTEM_PROMPT, "--system-prompt", help="System message of every record."
    ),
    source_type: str = typer.Option("auto", "--source-type", help="auto, nextjs, html or jsonl."),
    min_chars: int = typer.Option(8, "--min-chars", help="Drop answers shorter than this (characters)."),
    max_chars: int = typer.Option(4000, "--max-chars", help="Drop pairs whose question+answer is longer."),
    near_dup: float = typer.Option(
        0.85, "--near-dup", help="Near-duplicate Jaccard threshold (1.0 disables)."
    ),
    rate_limit_s: float = typer.Option(1.0, "--rate-limit-s", help="Seconds between requests to one host."),
    timeout_s: float = typer.Option(20.0, "--timeout-s", help="HTTP timeout per request, seconds."),
    retries: int = typer.Option(3, "--retries", help="HTTP retries (with exponential backoff)."),
) -> None:
    """Read sources, clean and deduplicate, write ChatML JSONL, a split and a report."""
    from finadvisor.dataset.build import build_dataset
    from finadvisor.dataset.clean import CleanConfig
    from finadvisor.dataset.fetch import Fetcher
    from finadvisor.dataset.sources import is_url

    fetcher = (
        Fetcher(timeout_s=timeout_s, retries=retries, min_interval_s=rate_limit_s)
        if any(is_url(s) for s in sources)
        else None
    )
    try:
        report = build_dataset(
            sources,
            out,
            eval_out=eval_out,
            eval_ratio=eval_ratio,
            seed=seed,
            system_prompt=system_prompt,
            source_type=source_type,
            clean=CleanConfig(min_chars=min_chars, max_chars=max_chars, near_dup_threshold=near_dup),
            fetcher=fetcher,
            progress=True,
        )
    finally:
        if fetcher is not None:
            fetcher.close()
    report.print()


@app.command()
def generate(
    text_files: list[Path] = typer.Argument(..., help="UTF-8 text files to turn into Q&A pairs."),
    out: Path = typer.Option(..., "--out", "-o", help="Output ChatML JSONL; appended to, and resumable."),
    upstream: str | None = typer.Option(
        None, "--upstream", help="OpenAI-compatible base URL; default: embedded engine."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Model name for --upstream (default: its first model)."
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="FINADVISOR_UPSTREAM_API_KEY", help="Bearer key for --upstream."
    ),
    pairs_per_chunk: int = typer.Option(3, "--pairs-per-chunk", min=1, max=20),
    chunk_chars: int = typer.Option(1500, "--chunk-chars", min=200),
    min_grounding: float = typer.Option(
        0.6, "--min-grounding", help="Share of answer words that must be in the chunk."
    ),
    system_prompt: str = typer.Option(DEFAULT_SYSTEM_PROMPT, "--system-prompt"),
) -> None:
    """Ask an LLM for grounded Vietnamese Q&A pairs, chunk by chunk; reruns skip finished chunks."""
    from finadvisor.dataset.generate import GenerateConfig, generate_dataset
    from finadvisor.dataset.llm import EngineLLM, JsonLLM, UpstreamLLM

    llm: JsonLLM
    if upstream:
        llm = UpstreamLLM(upstream, model=model, api_key=api_key)
    else:
        from finadvisor.engines import create_engine
        from finadvisor.settings import Settings

        llm = EngineLLM(create_engine(Settings()))
    config = GenerateConfig(
        chunk_chars=chunk_chars,
        pairs_per_chunk=pairs_per_chunk,
        min_grounding=min_grounding,
        system_prompt=system_prompt,
    )
    report = asyncio.run(generate_dataset(text_files, out, llm, config, progress=True))
    typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))


@app.command()
def stats(
    file: Path = typer.Argument(..., help="A ChatML or instruction/answer JSONL file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Counts, length distribution, sources and duplicates of a dataset file."""
    from finadvisor.dataset.stats import dataset_stats, print_stats

    result = dataset_stats(file)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_stats(result)
