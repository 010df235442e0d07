"""``finadvisor bench``: the sweep (default command), ``bench compare`` and ``bench engines``.

Wiring only: flags become a ``BenchConfig``; ``runner`` does the work; ``report`` and ``plots`` write the output.
The human table and progress bar go to the terminal; the last stdout line is always one JSON record.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from finadvisor.errors import ConfigError

Target = Literal["chat", "advisor"]

app = typer.Typer(
    help="Load-test an OpenAI-compatible server or the advisor; compare runs and engines.",
    add_completion=False,
)


def _stdout() -> Console:
    # Piped output (CI, scripts) would otherwise be squeezed to 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=200)


def _stderr() -> Console:
    return Console(stderr=True)


def _levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ConfigError(
            f"--concurrency {text!r}: expected comma-separated integers, e.g. 1,5,10,20",
            param="--concurrency",
        ) from None
    if not levels or any(c < 1 for c in levels):
        raise ConfigError(
            f"--concurrency {text!r}: expected positive integers, e.g. 1,5,10,20", param="--concurrency"
        )
    return levels


def _default_out() -> Path:
    return Path("bench-results") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _run(coro: Any) -> Any:
    # Plain asyncio: uvloop made no measurable difference to the client's CPU per request
    # (benchmarks/bench_overhead.py --loop uvloop|asyncio), so there is one code path.
    return asyncio.run(coro)


def _run_sweep_interruptibly(coro: Any, sweep: Any) -> bool:
    """Run the sweep; Ctrl-C or SIGTERM (timeout(1), CI cancellation, kill) stops it so that partial results are
    still written. The first signal sets ``sweep.stopping`` (no new requests; the loops end even if a request
    swallowed the cancellation) and cancels in-flight requests; a second one restores the default handlers, so
    a third kills. Returns whether the run was interrupted."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        signals = (
            (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
        )

        def interrupt() -> None:
            if sweep.stopping:
                for sig in signals:
                    loop.remove_signal_handler(sig)
            sweep.stopping = True
            if task is not None:
                task.cancel()

        for sig in signals:
            loop.add_signal_handler(sig, interrupt)
        try:
            await coro
        except asyncio.CancelledError:
            if not sweep.stopping:
                raise
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # a signal that arrived before the handlers were installed
        sweep.stopping = True
    return bool(sweep.stopping)


@app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    url: str = typer.Option(
        None, "--url", help="Server root, /v1 base URL or endpoint, e.g. http://127.0.0.1:8000"
    ),
    api_key: str = typer.Option(
        None,
        "--api-key",
        envvar="FINADVISOR_API_KEY",
        show_envvar=True,
        help="Sent as 'Authorization: Bearer <key>'. Never written to results.",
    ),
    model: str = typer.Option(
        None, "--model", help="Model name to request (default: the server's first model)."
    ),
    concurrency: str = typer.Option("1,5,10,20", "--concurrency", "-c", help="Comma-separated levels."),
    requests: int = typer.Option(
        None, "--requests", "-n", help="Requests per level (default: one per worker, as the seed did)."
    ),
    duration: float = typer.Option(None, "--duration", help="Seconds per level, instead of --requests."),
    target: Annotated[
        Target,
        typer.Option("--target", help="chat (/v1/chat/completions) or advisor (/api/recommendations)."),
    ] = "chat",
    dataset: Path = typer.Option(  # noqa: B008 - Typer's idiom
        None, "--dataset", help="JSONL/JSON of prompts (chat) or histories (advisor)."
    ),
    prompt: str = typer.Option(None, "--prompt", help="One prompt for every request (chat target)."),
    max_tokens: int = typer.Option(128, "--max-tokens", help="max_tokens per chat request."),
    warmup: int = typer.Option(
        1, "--warmup", help="Requests sent before the sweep and excluded from results."
    ),
    request_rate: float = typer.Option(
        None, "--request-rate", help="Open loop: Poisson arrivals at R req/s; concurrency caps in-flight."
    ),
    timeout: float = typer.Option(
        300.0, "--timeout", help="Per-request time limit, seconds (counted as 'timeout')."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Advisor: send 'Cache-Control: no-cache' to bypass its cache."
    ),
    repeat_prompts: bool = typer.Option(
        False,
        "--repeat-prompts",
        help="Send identical prompts (no unique tag): measures prefix-cache effects.",
    ),
    seed: int = typer.Option(None, "--seed", help="Seed for synthetic data and Poisson arrivals."),
    out: Path = typer.Option(  # noqa: B008 - Typer's idiom
        None, "--out", help="Folder for results.json and plots (default: bench-results/<time>)."
    ),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw PNG plots."),
) -> None:
    """Run a concurrency sweep (closed loop, or open loop with --request-rate)."""
    if ctx.invoked_subcommand is not None:
        return
    if not url:
        raise ConfigError(
            "pass --url, e.g. finadvisor bench --url http://127.0.0.1:8000 --concurrency 1,5,10,20",
            param="--url",
        )
    from finadvisor.bench.plots import plot_sweep
    from finadvisor.bench.report import print_table, results_document, summary_record, sweep_table, write_json
    from finadvisor.bench.runner import BenchConfig, Sweep, make_workload, run_sweep
    from finadvisor.bench.workload import load_chat_dataset, load_histories

    if target == "advisor" and prompt is not None:
        raise ConfigError(
            "--prompt applies to --target chat; the advisor takes histories (--dataset FILE)",
            param="--prompt",
        )
    if dataset is not None and prompt is not None:
        raise ConfigError("pass either --dataset or --prompt, not both", param="--prompt")
    config = BenchConfig(
        url=url,
        concurrency=_levels(concurrency),
        target=target,
        model=model,
        requests=requests,
        duration_s=duration,
        max_tokens=max_tokens,
        warmup=max(warmup, 0),
        request_rate=request_rate,
        timeout_s=timeout,
        no_cache=no_cache,
        unique_prompts=not repeat_prompts,
        seed=seed,
        api_key=api_key,
    )
    config.validate()
    conversations = load_chat_dataset(dataset) if dataset and target == "chat" else None
    histories = load_histories(dataset) if dataset and target == "advisor" else None
    workload = make_workload(config, conversations=conversations, prompt=prompt, histories=histories)
    out_dir = out or _default_out()

    sweep = Sweep(config)
    err = _stderr()
    with Progress(
        TextColumn("[bold]c={task.fields[c]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[errors]} errors"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:

        def hook(level: int, total: int | None) -> Any:
            task = progress.add_task("level", total=total, c=level, errors=0)
            failed = 0

            def done(result: Any) -> None:
                nonlocal failed
                if not result.ok:
                    failed += 1
                    progress.update(task, advance=1, errors=failed)
                else:
                    progress.advance(task)

            return done

        if _run_sweep_interruptibly(run_sweep(config, sweep, workload=workload, progress=hook), sweep):
            sweep.close_partial()
            err.print("[yellow]interrupted: writing partial results[/yellow]")

    doc = results_document(
        config.public(),
        sweep.levels,
        model=sweep.model,
        partial=sweep.partial,
        warmup_errors=sweep.warmup_errors,
    )
    results_path = write_json(out_dir / "results.json", doc)
    written = plot_sweep(doc, out_dir) if plots else []
    print_table(sweep_table(doc), _stdout())
    err.print(
        f"results: {results_path}" + (f"; plots: {', '.join(p.name for p in written)}" if written else "")
    )
    print(json.dumps(summary_record(doc, results_path), ensure_ascii=False), flush=True)


@app.command("compare")
def compare_cmd(
    a: Path = typer.Argument(..., help="Baseline results.json (A)."),  # noqa: B008 - Typer's idiom
    b: Path = typer.Argument(..., help="Candidate results.json (B)."),  # noqa: B008 - Typer's idiom
) -> None:
    """Print B/A ratios per concurrency level for latency, TTFT, TPOT, throughput and errors."""
    from finadvisor.bench.report import compare, compare_table, load_results, print_table

    doc_a, doc_b = load_results(a), load_results(b)
    rows = compare(doc_a, doc_b)
    if not rows:
        raise ConfigError(f"{a} and {b} share no concurrency level; nothing to compare")
    print_table(compare_table(rows, str(a), str(b)), _stdout())
    print(json.dumps({"compare": {"a": str(a), "b": str(b)}, "rows": rows}, ensure_ascii=False), flush=True)


@app.command("engines")
def engines_cmd(
    engines: str = typer.Option(
        "transformers,llamacpp,vllm", "--engines", help="Comma-separated engine names."
    ),
    prompts: Path = typer.Option(  # noqa: B008 - Typer's idiom
        None, "--prompts", help="JSONL/JSON of prompts (default: synthetic advisor prompts)."
    ),
    n_prompts: int = typer.Option(4, "--n-prompts", help="How many prompts to run per engine."),
    max_tokens: int = typer.Option(64, "--max-tokens", help="max_tokens per request."),
    concurrency: int = typer.Option(1, "--concurrency", help="Requests in flight per engine."),
    model: str = typer.Option(
        None, "--model", help="Model path for every engine (default: the packaged model)."
    ),
    n_threads: int = typer.Option(
        None, "--n-threads", help="CPU threads for every engine (default: FINADVISOR_N_THREADS or all cores)."
    ),
    out: Path = typer.Option(None, "--out", help="Folder for engines.json (default: bench-results/<time>)."),  # noqa: B008 - Typer's idiom
) -> None:
    """Same prompts, same model, each engine in-process: tokens/s, TTFT, speed-up over transformers."""
    from finadvisor.bench.engines import compare_engines, settings_factory
    from finadvisor.bench.report import write_json
    from finadvisor.bench.workload import ChatWorkload, load_chat_dataset

    names = [n.strip() for n in engines.split(",") if n.strip()]
    if not names:
        raise ConfigError("--engines needs at least one engine name, e.g. transformers,llamacpp")
    if n_prompts < 1 or max_tokens < 1 or concurrency < 1:
        raise ConfigError("--n-prompts, --max-tokens and --concurrency must be at least 1")
    base = ChatWorkload(load_chat_dataset(prompts) if prompts else None, unique=False)
    chosen = [base.next() for _ in range(min(n_prompts, len(base.conversations)))]
    err = _stderr()
    rows = _run(
        compare_engines(
            names,
            chosen,
            max_tokens=max_tokens,
            concurrency=concurrency,
            factory=settings_factory(model, n_threads=n_threads),
            on_engine=lambda name: err.print(f"[bold]engine {name}[/bold]: loading and running"),
        )
    )
    doc = {
        "schema": "finadvisor.bench.engines/1",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {
            "engines": names,
            "prompts": len(chosen),
            "max_tokens": max_tokens,
            "concurrency": concurrency,
            "model": model,
            "n_threads": n_threads,
        },
        "engines": rows,
    }
    path = write_json((out or _default_out()) / "engines.json", doc)
    _stdout().print(engines_table(rows))
    err.print(f"results: {path}")
    print(
        json.dumps(
            {
                "bench": "engines",
                "results": str(path),
                "engines": [
                    {k: r.get(k) for k in ("engine", "status", "tokens_per_s", "speedup", "note")}
                    | {"ttft_avg_s": (r.get("ttft") or {}).get("mean")}
                    for r in rows
                ],
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def engines_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Engine comparison (same prompts, same model, in-process)")
    for col in (
        "engine",
        "load (s)",
        "TTFT avg (ms)",
        "decode tok/s",
        "tok/s (wall)",
        "speed-up vs transformers",
        "note",
    ):
        table.add_column(col, justify="left" if col in ("engine", "note") else "right")
    for r in rows:
        if r["status"] != "ok":
            table.add_row(r["engine"], "-", "-", "-", "-", "-", f"{r['status']}: {r['note']}")
            continue

        def f(v: float | None, fmt: str) -> str:
            return "-" if v is None else format(v, fmt)

        table.add_row(
            r["engine"],
            f(r.get("load_s"), ".1f"),
            f(r["ttft"]["mean"] and r["ttft"]["mean"] * 1000, ".0f"),
            f(r.get("decode_tokens_per_s"), ".1f"),
            f(r.get("tokens_per_s"), ".1f"),
            f(r.get("speedup"), ".2f") + ("x" if r.get("speedup") else ""),
            f"{r['output_tokens']} tokens / {r['requests']} requests",
        )
    return table
