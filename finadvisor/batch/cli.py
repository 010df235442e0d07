"""``finadvisor batch``: precompute every user's recommendations overnight, resumably, into a JSONL file (and,
with ``--cache redis://…``, into the cache that the morning's ``GET /api/recommendations`` reads).

    finadvisor batch --input users.jsonl --out /var/lib/finadvisor/batch/2026-12-03.jsonl \\
        --cache redis://127.0.0.1:6379/0                          # one machine, the embedded model
    finadvisor batch --input ids.txt --spending-api-url 'http://pfm/v1/users/{user}/summary?month={month}' \\
        --out out.jsonl --ray auto --upstream http://vllm:8001/v1  # a Ray cluster in front of vLLM

Exit codes: 0 every user ok, 3 the run finished but some users failed (see the failures table and their records),
130 interrupted (re-run the same command to resume), 1 the run could not start (bad flags, unreadable input).
Wiring only: inputs.py reads users, runner.py (or ray_job.py) does the work, report.py prints.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from finadvisor.batch.inputs import Source, open_source
from finadvisor.batch.output import ResultLog
from finadvisor.batch.report import (
    exit_code,
    failures_table,
    progress_bar,
    summary_record,
    summary_table,
)
from finadvisor.batch.runner import BatchStats, run_batch
from finadvisor.engines import Engine
from finadvisor.errors import ConfigError
from finadvisor.logs import add_secrets
from finadvisor.settings import EngineName, Settings, load_settings

MORNING_HOUR = 8
SERVICE_KEY_ENV = "FINADVISOR_SPENDING_SERVICE_KEY"


def next_morning(now: dt.datetime) -> dt.datetime:
    """The morning a nightly result is for: 08:00 today when run before 05:00 (a cron job after midnight),
    else 08:00 tomorrow. The advisor's cache key holds the weekday and part of day, so this result serves that
    morning's requests (05:00-11:00) as cache hits."""
    day = now.date() if now.hour < 5 else now.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(MORNING_HOUR))


def parse_for_time(text: str | None, now: dt.datetime | None = None) -> dt.datetime:
    if not text:
        return next_morning(now or dt.datetime.now())
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--for-time {text!r} is not an ISO 8601 time, e.g. 2026-12-03T08:00") from None
    # The server reads its clock as naive local time: an explicit offset is converted to that.
    return when.astimezone().replace(tzinfo=None) if when.tzinfo else when


def run_interruptibly(
    main: Callable[[Callable[[], bool]], Coroutine[Any, Any, BatchStats]], stats: BatchStats
) -> BatchStats:
    """Run ``main(stopping)``; Ctrl-C or SIGTERM stops taking users, cancels those in flight (at most they are
    lost: everything finished is already on disk) and returns the stats marked interrupted. A second signal
    restores the default handlers, so a third one kills."""

    async def supervise() -> BatchStats:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        signals = (
            (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
        )

        def interrupt() -> None:
            if stats.interrupted:
                for sig in signals:
                    loop.remove_signal_handler(sig)
            stats.interrupted = True
            if task is not None:
                task.cancel()

        for sig in signals:
            loop.add_signal_handler(sig, interrupt)
        try:
            return await main(lambda: stats.interrupted)
        except asyncio.CancelledError:
            if not stats.interrupted:
                raise
            return stats
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    try:
        return asyncio.run(supervise())
    except KeyboardInterrupt:
        stats.interrupted = True
        return stats


def run_local(
    settings: Settings,
    source: Source,
    out: ResultLog,
    *,
    for_time: dt.datetime,
    skip: set[str],
    force: bool,
    concurrency: int | None,
    progress: Any = None,
    engine: Engine | None = None,
    stats: BatchStats | None = None,
) -> BatchStats:
    """The one-machine batch: one advisor on its own engine (the default llama.cpp model, or an upstream)."""
    from finadvisor.advisor.build import standalone_advisor

    stats = stats or BatchStats()

    async def main(stopping: Callable[[], bool]) -> BatchStats:
        try:
            async with standalone_advisor(settings, engine=engine) as advisor:
                stats.started = time.perf_counter()  # model loading is not the batch's throughput
                stats.finished = None
                return await run_batch(
                    advisor,
                    source,
                    out,
                    for_time=for_time,
                    skip=skip,
                    force=force,
                    concurrency=concurrency,
                    stats=stats,
                    progress=progress,
                    stopping=stopping,
                )
        finally:
            await source.close()

    return run_interruptibly(main, stats)


def batch(
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            help='JSONL of {"user","history"}, a folder of <user>.json, '
            "or (with --spending-api-url) a file of user IDs, one per line.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output JSONL; re-running with the same file resumes.")],
    cache: Annotated[
        str | None,
        typer.Option(
            "--cache",
            help="Write results into this cache, e.g. "
            "redis://127.0.0.1:6379/0 (default: FINADVISOR_CACHE_URL).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Recompute every user: start a new output file and overwrite cache entries."
        ),
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray", help="Run on a Ray cluster (address, or 'auto'/'local') as a Ray Data pipeline."
        ),
    ] = None,
    for_time: Annotated[
        str | None,
        typer.Option(
            "--for-time",
            help="ISO time the advice is for; the cache entry "
            "serves that weekday's part of day (default: 08:00 next "
            "morning).",
        ),
    ] = None,
    spending_api_url: Annotated[
        str | None,
        typer.Option(
            "--spending-api-url", help="URL template with {user} (and {month}) to fetch each user's history."
        ),
    ] = None,
    service_key: Annotated[
        str | None,
        typer.Option(
            "--service-key",
            envvar=SERVICE_KEY_ENV,
            show_envvar=True,
            show_default=False,
            help="Service-to-service key for the spending API (sent as a bearer token; never logged). Prefer the "
            "environment variable to the flag.",
        ),
    ] = None,
    month: Annotated[
        str | None, typer.Option("--month", help="YYYY-MM for {month} (default: --for-time's).")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, help="Users in flight (default: twice the engine's slots)."),
    ] = None,
    engine: Annotated[
        EngineName | None,
        typer.Option(
            "--engine",
            help="Engine override (openai when --upstream is given). \\[env var: FINADVISOR_ENGINE]",
        ),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Local GGUF for the embedded engine.")] = None,
    upstream: Annotated[
        str | None,
        typer.Option("--upstream", help="OpenAI-compatible URL (vLLM) instead of the embedded model."),
    ] = None,
    n_parallel: Annotated[int | None, typer.Option("--n-parallel", help="llama.cpp slots.")] = None,
    n_threads: Annotated[
        int | None, typer.Option("--n-threads", help="llama.cpp threads (0 = all cores).")
    ] = None,
    ray_actors: Annotated[int, typer.Option("--ray-actors", min=1, help="Advisor actors (Ray).")] = 2,
    ray_batch_size: Annotated[
        int, typer.Option("--ray-batch-size", min=1, help="Users per actor batch (Ray).")
    ] = 4,
    ray_llm_app: Annotated[
        str | None,
        typer.Option(
            "--ray-llm-app",
            help="Serve application whose 'llm' deployment to share (e.g. the one 'finadvisor deploy "
            "ray' runs); default: deploy one for this job, unless --upstream is given.",
        ),
    ] = None,
) -> None:
    """Precompute recommendations for many users (nightly job); resumable; exit code 3 if any user failed."""
    add_secrets(service_key)  # from the flag too, not only the environment: never in a log line
    when = parse_for_time(for_time)
    settings = load_settings(
        cache_url=cache,
        engine=engine or ("openai" if upstream else None),
        model=model,
        upstream_url=upstream,
        n_parallel=n_parallel,
        n_threads=n_threads,
    )
    source = open_source(
        input,
        api_url=spending_api_url,
        service_key=service_key,
        month=month or when.strftime("%Y-%m"),
        timeout_s=settings.spending_api_timeout_s,
    )
    code = execute(
        settings,
        source,
        out,
        input_label=str(input),
        for_time=when,
        force=force,
        concurrency=concurrency,
        ray=ray,
        ray_options={
            "actors": ray_actors,
            "batch_size": ray_batch_size,
            "llm_app": ray_llm_app,
            "service_key": service_key,
        },
    )
    raise typer.Exit(code)


def execute(
    settings: Settings,
    source: Source,
    out: Path,
    *,
    input_label: str,
    for_time: dt.datetime,
    force: bool = False,
    concurrency: int | None = None,
    ray: str | None = None,
    ray_options: dict[str, Any] | None = None,
    engine: Engine | None = None,
) -> int:
    """Open (or resume) the output, run with a progress bar, print the tables and the last-line JSON; returns
    the exit code. ``engine`` replaces the one the settings name (tests: a scripted fake engine)."""
    stdout = Console() if sys.stdout.isatty() else Console(width=200)
    err = Console(stderr=True)
    stats = BatchStats()
    stamp = for_time.isoformat(timespec="seconds")
    with ResultLog(out, for_time=stamp, force=force) as log:
        done = log.open()
        resume = log.resume
        if done or resume.retried or resume.torn:
            err.print(
                f"resuming {out}: {len(done)} users done, {resume.retried} failed users to retry"
                + (", a torn last line dropped" if resume.torn else "")
            )
        with progress_bar(err) as bar:
            task = bar.add_task("batch", total=None, failed=0, rate="-")

            def on_record(record: dict[str, Any]) -> None:
                bar.update(
                    task,
                    advance=1,
                    total=stats.total or None,
                    failed=stats.failed,
                    rate=f"{stats.users_per_s:.2f}",
                )

            if ray:
                from finadvisor.batch.ray_job import run_ray

                run_ray(
                    ray,
                    settings,
                    source,
                    log,
                    for_time=for_time,
                    skip=done,
                    force=force,
                    stats=stats,
                    progress=on_record,
                    **(ray_options or {}),
                )
            else:
                run_local(
                    settings,
                    source,
                    log,
                    for_time=for_time,
                    skip=done,
                    force=force,
                    concurrency=concurrency,
                    progress=on_record,
                    stats=stats,
                    engine=engine,
                )
    stdout.print(
        summary_table(
            stats, title=f"finadvisor batch: {input_label} -> {out} (for {for_time:%a %Y-%m-%d %H:%M})"
        )
    )
    if (table := failures_table(stats)) is not None:
        stdout.print(table)
    if stats.interrupted:
        err.print(
            "[yellow]interrupted: finished users are in the output; re-run the same command to resume"
            "[/yellow]"
        )
    record = summary_record(stats, out=str(out), for_time=stamp, mode="ray" if ray else "local")
    print(json.dumps(record, ensure_ascii=False), flush=True)
    return exit_code(stats)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
