"""The nightly batch's throughput against the advisor's saturated HTTP throughput, side by side in one run.

    flock /tmp/finadvisor-heavy.lock python benchmarks/batch_throughput.py --users 12 --out out/batch-bench

Same N synthetic histories, same packaged model, same llama.cpp slots and threads, one after the other (never at
the same time: they would share the CPU):
1. HTTP: ``finadvisor serve`` + ``finadvisor bench --target advisor --no-cache`` at each ``--concurrency`` level;
   the best level's req/s is the advisor's saturated throughput.
2. Batch: ``finadvisor batch --force`` over the same histories (its own engine; model loading not counted,
   as the server's start-up is not counted in 1).
Target (issue 17): batch users/s >= 90% of the best HTTP req/s. Also gives the cost per thousand users on this
machine (machine-hours = 1000 / users/s / 3600). Prints a table; the last stdout line is one JSON record.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import served  # noqa: E402


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def engine_flag(args: argparse.Namespace) -> list[str]:
    return ["--engine", args.engine] if args.engine else []


def write_dataset(path: Path, n: int, seed: int) -> None:
    from finadvisor.bench.workload import synthetic_history

    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                json.dumps({"user": f"bench{i:04d}", "history": synthetic_history(rng)}, ensure_ascii=False)
                + "\n"
            )


def http_side(args: argparse.Namespace, env: dict[str, str], model: str, data: Path, out: Path) -> dict:
    with served(
        "--model",
        model,
        "--n-parallel",
        str(args.n_parallel),
        "--n-threads",
        str(args.n_threads),
        "--log-level",
        "warning",
        *engine_flag(args),
        env=env,
        cwd=ROOT,
        timeout_s=300,
    ) as url:
        bench = subprocess.run(
            [
                sys.executable,
                "-m",
                "finadvisor.cli",
                "bench",
                "--url",
                url,
                "--target",
                "advisor",
                "--no-cache",
                "-c",
                args.concurrency,
                "--requests",
                str(args.users),
                "--dataset",
                str(data),
                "--warmup",
                "1",
                "--no-plots",
                "--out",
                str(out / "http"),
                "--timeout",
                "900",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    record = last_json(bench.stdout)
    hits = [lv["concurrency"] for lv in record["levels"] if lv.get("cache_hit_rate")]
    if hits:
        raise SystemExit(f"HTTP levels {hits} were served from the cache: not a saturated-miss baseline")
    best = max(record["levels"], key=lambda lv: lv["req_per_s"] or 0)
    return {
        "levels": record["levels"],
        "best_concurrency": best["concurrency"],
        "req_per_s": best["req_per_s"],
        "failed": sum(lv["failed"] for lv in record["levels"]),
        "table": bench.stdout,
    }


def batch_side(args: argparse.Namespace, env: dict[str, str], model: str, data: Path, out: Path) -> dict:
    t0 = time.perf_counter()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "finadvisor.batch",
            "batch",
            "--input",
            str(data),
            "--out",
            str(out / "batch.jsonl"),
            "--force",
            "--model",
            model,
            "--n-parallel",
            str(args.n_parallel),
            "--n-threads",
            str(args.n_threads),
            *engine_flag(args),
            *(["--concurrency", str(args.batch_concurrency)] if args.batch_concurrency else []),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if run.returncode not in (0, 3):
        raise SystemExit(f"batch failed ({run.returncode}): {run.stderr[-2000:]}")
    record = last_json(run.stdout)
    record["process_wall_s"] = round(time.perf_counter() - t0, 1)
    record["table"] = run.stdout
    return record


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--concurrency", default="4,8", help="HTTP levels; the best one is the baseline")
    parser.add_argument("--n-parallel", type=int, default=4)
    parser.add_argument("--n-threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, default=Path("out/batch-bench"))
    parser.add_argument(
        "--batch-concurrency", type=int, default=None, help="batch workers (default: its own)"
    )
    parser.add_argument("--engine", default=None, help="engine override for a dry run of this script (fake)")
    args = parser.parse_args()

    from finadvisor.models import default_model_path
    from finadvisor.settings import Settings

    model = str(default_model_path(Settings().cache_dir))
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / "histories.jsonl"
    write_dataset(data, args.users, args.seed)
    # Index and caches in the run's own folder; both sides open the same index.
    env = dict(
        os.environ,
        FINADVISOR_INDEX_DIR=str(args.out / "index"),
        FINADVISOR_RATE_LIMIT_PER_MIN="100000",
        FINADVISOR_CACHE_BYPASS_PER_MIN="100000",
    )  # every bench request a real miss (--no-cache honoured)

    http = http_side(args, env, model, data, args.out)
    batch = batch_side(args, env, model, data, args.out)
    ratio = batch["users_per_s"] / http["req_per_s"] if http["req_per_s"] else None
    print(http.pop("table"))
    print(batch.pop("table"))
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"batch vs HTTP advisor, {args.users} users, {args.n_parallel} slots, {args.n_threads} threads"
    )
    for col in ("side", "users/s", "p50 (s)", "p99 (s)", "failed", "1000 users (machine-h)"):
        table.add_column(col, justify="right")
    best = next(lv for lv in http["levels"] if lv["concurrency"] == http["best_concurrency"])
    table.add_row(
        f"HTTP bench c={http['best_concurrency']}",
        f"{http['req_per_s']:.4f}",
        "-",
        f"{best['p99_latency_s']:.1f}",
        str(http["failed"]),
        f"{1000 / http['req_per_s'] / 3600:.2f}",
    )
    table.add_row(
        "batch",
        f"{batch['users_per_s']:.4f}",
        f"{batch['p50_s']:.1f}",
        f"{batch['p99_s']:.1f}",
        str(batch["failed"]),
        f"{1000 / batch['users_per_s'] / 3600:.2f}",
    )
    Console(width=200).print(table)
    record = {
        "bench": "batch_vs_http",
        "users": args.users,
        "n_parallel": args.n_parallel,
        "n_threads": args.n_threads,
        "http_best_concurrency": http["best_concurrency"],
        "http_req_per_s": http["req_per_s"],
        "http_levels": http["levels"],
        "batch_users_per_s": batch["users_per_s"],
        "batch_p50_s": batch["p50_s"],
        "batch_p99_s": batch["p99_s"],
        "batch_failed": batch["failed"],
        "batch_failures": batch["failures"],
        "http_failed": http["failed"],
        "ratio": round(ratio, 3) if ratio else None,
        "target_ratio": 0.9,
        "pass": bool(ratio and ratio >= 0.9),
        "machine_hours_per_1000_users": round(1000 / batch["users_per_s"] / 3600, 2),
    }
    (args.out / "summary.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
