"""PNG plots of a sweep: latency percentiles and throughput against concurrency, and the TTFT distribution.

matplotlib is imported here with the Agg backend, only when plots are drawn, so the CLI starts fast and works
without a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def plot_sweep(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write latency.png, throughput.png and ttft.png (or latency_distribution.png without TTFT) to ``out_dir``."""
    levels = doc["levels"]
    if not levels:
        return []
    plt = _pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    conc = [lv["concurrency"] for lv in levels]
    written = []
    label = doc["config"].get("url", "")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, style in (("mean", "o-"), ("median", "s--"), ("p90", "^-."), ("p99", "v:")):
        ax.plot(conc, [_nan(lv["latency"][key]) for lv in levels], style, label=f"e2e {key}")
    if any(lv["ttft"]["n"] for lv in levels):
        ax.plot(conc, [_nan(lv["ttft"]["median"]) for lv in levels], "x-", label="TTFT median")
        ax.plot(conc, [_nan(lv["ttft"]["p99"]) for lv in levels], "x:", label="TTFT p99")
    ax.set_xlabel("concurrency")
    ax.set_ylabel("seconds")
    ax.set_title(f"Latency vs concurrency\n{label}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    written.append(_save(plt, fig, out_dir / "latency.png"))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(conc, [lv["request_throughput"] for lv in levels], "o-", color="tab:blue", label="requests/s")
    ax.set_xlabel("concurrency")
    ax.set_ylabel("requests / s", color="tab:blue")
    ax.grid(alpha=0.3)
    if any(lv["output_tokens"] for lv in levels):
        ax2 = ax.twinx()
        ax2.plot(
            conc,
            [lv["output_token_throughput"] for lv in levels],
            "s--",
            color="tab:orange",
            label="output tokens/s",
        )
        ax2.set_ylabel("output tokens / s", color="tab:orange")
    ax.set_title(f"Throughput vs concurrency\n{label}", fontsize=10)
    written.append(_save(plt, fig, out_dir / "throughput.png"))

    has_ttft = any(lv.get("samples", {}).get("ttft") for lv in levels)
    key, name, title = (
        ("ttft", "ttft.png", "TTFT distribution")
        if has_ttft
        else ("e2e", "latency_distribution.png", "Latency distribution")
    )
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for lv in levels:
        samples = lv.get("samples", {}).get(key) or []
        if samples:
            ax.hist(
                [s * 1000 for s in samples],
                bins=min(40, max(5, len(samples) // 3)),
                alpha=0.5,
                label=f"c={lv['concurrency']} (n={len(samples)})",
            )
    ax.set_xlabel("milliseconds")
    ax.set_ylabel("requests")
    ax.set_title(f"{title}\n{label}", fontsize=10)
    ax.legend(fontsize=8)
    written.append(_save(plt, fig, out_dir / name))
    return written


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
