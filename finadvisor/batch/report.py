"""What a batch run prints, in ``finadvisor bench``'s style: a rich table, a failures-by-kind table, and one JSON
record as the very last stdout line (``... | tail -1 | jq``), plus the live progress bar on stderr.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from finadvisor.batch.runner import BatchStats

EXIT_OK = 0
EXIT_USERS_FAILED = 3  # the run finished; some users have error records (1 = the run itself could not run)
EXIT_INTERRUPTED = 130


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TextColumn("{task.fields[rate]} users/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


def _s(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary_table(stats: BatchStats, *, title: str) -> Table:
    table = Table(title=title + (" (INTERRUPTED)" if stats.interrupted else ""))
    for name in (
        "users",
        "ok",
        "failed",
        "skipped (done before)",
        "wall (s)",
        "users/s",
        "p50 / user (s)",
        "p99 / user (s)",
        "cache",
    ):
        table.add_column(name, justify="right")
    cache = ", ".join(f"{k}={v}" for k, v in sorted(stats.cache.items())) or "-"
    table.add_row(
        str(stats.done),
        str(stats.ok),
        str(stats.failed),
        str(stats.skipped),
        _s(stats.wall_s, 1),
        _s(stats.users_per_s, 3),
        _s(stats.latency(50)),
        _s(stats.latency(99)),
        cache,
    )
    return table


def failures_table(stats: BatchStats) -> Table | None:
    if not stats.failures:
        return None
    table = Table(title="failures by kind")
    for name, justify in (("kind", "left"), ("users", "right"), ("examples (user: message)", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for kind, n in stats.failures.most_common():
        examples = "\n".join(f"{e['user']}: {e['message'][:160]}" for e in stats.examples.get(kind, []))
        table.add_row(kind, str(n), examples)
    return table


def summary_record(stats: BatchStats, **extra: Any) -> dict[str, Any]:
    """The one-line JSON record printed last on stdout."""
    return {
        "bench": "batch",
        **extra,
        "interrupted": stats.interrupted,
        "users": stats.done,
        "ok": stats.ok,
        "failed": stats.failed,
        "skipped": stats.skipped,
        "wall_s": round(stats.wall_s, 3),
        "users_per_s": round(stats.users_per_s, 4),
        "p50_s": stats.latency(50),
        "p99_s": stats.latency(99),
        "failures": dict(stats.failures),
        "cache": dict(stats.cache),
    }


def exit_code(stats: BatchStats) -> int:
    if stats.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_USERS_FAILED if stats.failed else EXIT_OK
