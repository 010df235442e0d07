"""Turning a sweep into what people and scripts read: a rich table, a results JSON file, one summary line.

The results file is the contract between ``bench`` and ``bench compare`` (and any notebook): ``schema`` names its
version, ``levels`` holds one record per concurrency level, as built by ``stats.summarise``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from finadvisor.errors import ConfigError
from finadvisor.fsutil import atomic_write

SCHEMA = "finadvisor.bench/1"


def results_document(
    config: dict[str, Any],
    levels: list[dict[str, Any]],
    *,
    model: str | None,
    partial: bool,
    warmup_errors: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": model,
        "partial": partial,
        "config": config,
        "warmup_errors": warmup_errors or {},
        "levels": levels,
    }


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    """Atomic: a reader never sees half a file, and Ctrl-C during the write leaves the old one."""
    atomic_write(path, json.dumps(doc, ensure_ascii=False, indent=1))
    return path


def load_results(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist; pass a results.json written by 'finadvisor bench'"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("levels"), list):
        raise ConfigError(f"{path} is not a finadvisor bench results file (schema {SCHEMA})")
    return doc


def _s(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int) and scale == 1.0:
        return str(value)
    return f"{value * scale:.{digits}f}"


def sweep_table(doc: dict[str, Any]) -> Table:
    """The seed's two columns first (concurrency, average latency), then everything the seed did not measure."""
    target = doc["config"].get("target", "chat")
    title = f"finadvisor bench: {target} @ {doc['config'].get('url')}" + (
        " (PARTIAL)" if doc.get("partial") else ""
    )
    table = Table(title=title)
    for name in ("concurrency", "avg latency (s)", "p50 (s)", "p90 (s)", "p99 (s)"):
        table.add_column(name, justify="right")
    if target == "chat":
        for name in ("TTFT avg (ms)", "TTFT p99 (ms)", "ITL avg (ms)", "TPOT avg (ms)", "tok/s"):
            table.add_column(name, justify="right")
    else:
        table.add_column("cache hit", justify="right")
    for name in ("req/s", "ok", "errors"):
        table.add_column(name, justify="right")
    for lv in doc["levels"]:
        lat = lv["latency"]
        row = [
            str(lv["concurrency"]) + ("*" if lv.get("partial") else ""),
            _s(lat["mean"]),
            _s(lat["median"]),
            _s(lat["p90"]),
            _s(lat["p99"]),
        ]
        if target == "chat":
            row += [
                _s(lv["ttft"]["mean"], 1000, 1),
                _s(lv["ttft"]["p99"], 1000, 1),
                _s(lv["itl"]["mean"], 1000, 1),
                _s(lv["tpot"]["mean"], 1000, 1),
                _s(lv["output_token_throughput"], digits=1),
            ]
        else:
            rate = lv.get("cache_hit_rate")
            row.append("-" if rate is None else f"{rate:.0%}")
        errors = ", ".join(f"{k}={v}" for k, v in lv["errors"].items()) or "0"
        row += [_s(lv["request_throughput"], digits=2), str(lv["completed"]), errors]
        table.add_row(*row)
    return table


def summary_record(doc: dict[str, Any], results_path: Path | None) -> dict[str, Any]:
    """The one-line JSON record printed last on stdout."""
    return {
        "bench": doc["config"].get("target", "chat"),
        "url": doc["config"].get("url"),
        "model": doc.get("model"),
        "partial": doc.get("partial", False),
        "results": str(results_path) if results_path else None,
        "levels": [
            {
                "concurrency": lv["concurrency"],
                "avg_latency_s": lv["latency"]["mean"],
                "p99_latency_s": lv["latency"]["p99"],
                "ttft_avg_s": lv["ttft"]["mean"],
                "req_per_s": lv["request_throughput"],
                "tok_per_s": lv["output_token_throughput"],
                "completed": lv["completed"],
                "failed": lv["failed"],
                "cache_hit_rate": lv.get("cache_hit_rate"),
            }
            for lv in doc["levels"]
        ],
    }


COMPARED = [  # (label, getter, higher is better)
    ("avg latency (s)", lambda lv: lv["latency"]["mean"], False),
    ("p90 latency (s)", lambda lv: lv["latency"]["p90"], False),
    ("p99 latency (s)", lambda lv: lv["latency"]["p99"], False),
    ("TTFT avg (s)", lambda lv: lv["ttft"]["mean"], False),
    ("TPOT avg (s)", lambda lv: lv["tpot"]["mean"], False),
    ("req/s", lambda lv: lv["request_throughput"], True),
    ("tok/s", lambda lv: lv["output_token_throughput"], True),
    ("errors", lambda lv: lv["failed"], False),
]


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Per concurrency level present in both: each metric for A and B and the ratio B/A."""
    by_level_b = {lv["concurrency"]: lv for lv in b["levels"]}
    rows = []
    for lv_a in a["levels"]:
        lv_b = by_level_b.get(lv_a["concurrency"])
        if lv_b is None:
            continue
        for label, get, higher_better in COMPARED:
            va, vb = get(lv_a), get(lv_b)
            ratio = (vb / va) if (va not in (None, 0) and vb is not None) else None
            rows.append(
                {
                    "concurrency": lv_a["concurrency"],
                    "metric": label,
                    "a": va,
                    "b": vb,
                    "ratio": ratio,
                    "higher_is_better": higher_better,
                }
            )
    return rows


def compare_table(rows: list[dict[str, Any]], name_a: str, name_b: str) -> Table:
    table = Table(title=f"B / A   (A = {name_a}, B = {name_b}; green = B better)")
    for col in ("concurrency", "metric", "A", "B", "B/A"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for row in rows:
        ratio = row["ratio"]
        if ratio is None:
            shown = "-"
        else:
            better = ratio > 1 if row["higher_is_better"] else ratio < 1
            colour = (
                "green" if better and abs(ratio - 1) > 0.02 else ("red" if abs(ratio - 1) > 0.02 else "white")
            )
            shown = f"[{colour}]{ratio:.2f}x[/{colour}]"
        table.add_row(str(row["concurrency"]), row["metric"], _s(row["a"]), _s(row["b"]), shown)
    return table


def print_table(table: Table, console: Console | None = None) -> None:
    (console or Console()).print(table)
