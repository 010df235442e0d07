"""What a build did: items in, kept, dropped per reason, skipped inside sources, per-source counts.

Printed as a rich table and written as JSON next to the output (``<out>.report.json``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class BuildReport:
    items_in: int = 0
    kept: int = 0
    train: int = 0
    eval: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # inside sources, before becoming items
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def count_source(self, origin: str, key: str) -> None:
        row = self.per_source.setdefault(origin, {"in": 0, "kept": 0})
        row[key] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "items_in": self.items_in,
            "kept": self.kept,
            "dropped_total": sum(self.dropped.values()),
            "train": self.train,
            "eval": self.eval,
            "dropped": dict(sorted(self.dropped.items())),
            "skipped_in_sources": dict(sorted(self.skipped.items())),
            "per_source": self.per_source,
            "outputs": self.outputs,
            "elapsed_s": round(self.elapsed_s, 3),
            "items_per_s": round(self.items_in / self.elapsed_s, 1) if self.elapsed_s > 0 else None,
        }

    def print(self, console: Console | None = None) -> None:
        console = console or Console(stderr=True)
        table = Table(title="dataset build")
        table.add_column("what")
        table.add_column("count", justify="right")
        table.add_row("items in", str(self.items_in))
        table.add_row("kept", str(self.kept), style="green")
        for reason, n in sorted(self.dropped.items()):
            table.add_row(f"  dropped: {reason}", str(n), style="yellow")
        for reason, n in sorted(self.skipped.items()):
            table.add_row(f"  skipped in source: {reason}", str(n), style="dim")
        table.add_row("train", str(self.train))
        table.add_row("eval", str(self.eval))
        console.print(table)
        if len(self.per_source) > 1:
            sources = Table(title="per source")
            sources.add_column("source")
            sources.add_column("in", justify="right")
            sources.add_column("kept", justify="right")
            for origin, row in self.per_source.items():
                sources.add_row(origin, str(row["in"]), str(row["kept"]))
            console.print(sources)
        for name, path in self.outputs.items():
            console.print(f"{name}: {path}")


def report_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".report.json")
