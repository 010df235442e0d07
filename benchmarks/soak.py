"""Soak test: run `finadvisor serve` on the default model at concurrency C for D seconds and watch it.

    python benchmarks/soak.py --duration 600 --concurrency 20 --out out/soak      # the 10-minute run
    python benchmarks/soak.py --duration 60 --concurrency 20 --out out/soak-ci    # the CI version

Reports errors by kind, p50/p99 latency per time window, server RSS and open file descriptors over time, and
RSS growth after warm-up (goal: under 10%). Prints a table; the last stdout line is one JSON record.
Traffic mixes streamed chat completions (distinct prompts) with advisor requests (a few repeated histories,
so the cache is exercised too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port, wait_healthy  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def worker(
    client: httpx.AsyncClient, stop_at: float, samples: list, errors: dict, wid: int, advisor_every: int
) -> None:
    histories = sorted((ROOT / "finadvisor/data/histories").glob("*.json"))
    i = 0
    while time.monotonic() < stop_at:
        i += 1
        t0 = time.monotonic()
        kind = "advisor" if advisor_every and (wid + i) % advisor_every == 0 else "chat"
        try:
            if kind == "chat":
                body = {
                    "messages": [
                        {"role": "user", "content": f"Câu hỏi {wid}-{i}: gợi ý một cách tiết kiệm."}
                    ],
                    "max_tokens": 16,
                    "stream": True,
                }
                async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                    if r.status_code != 200:
                        errors[f"http_{r.status_code}"] = errors.get(f"http_{r.status_code}", 0) + 1
                        await r.aread()
                        continue
                    done = False
                    async for line in r.aiter_lines():
                        done = done or line == "data: [DONE]"
                    if not done:
                        errors["incomplete_stream"] = errors.get("incomplete_stream", 0) + 1
                        continue
            else:
                history = json.loads(random.choice(histories).read_text())
                r = await client.post("/api/recommendations", json={"history": history})
                if r.status_code != 200:
                    errors[f"advisor_http_{r.status_code}"] = (
                        errors.get(f"advisor_http_{r.status_code}", 0) + 1
                    )
                    continue
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            continue
        samples.append((time.monotonic(), time.monotonic() - t0, kind))


async def monitor(proc: psutil.Process, stop_at: float, points: list, every: float) -> None:
    while time.monotonic() < stop_at:
        try:
            points.append((time.monotonic(), proc.memory_info().rss / 2**20, proc.num_fds()))
        except psutil.Error:
            return
        await asyncio.sleep(every)


async def run(
    url: str, pid: int, duration: float, concurrency: int, warmup: float, advisor_every: int, grace: float
) -> dict:
    samples: list = []
    errors: dict = {}
    points: list = []
    start = time.monotonic()
    stop_at = start + duration
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        tasks = [
            asyncio.ensure_future(worker(client, stop_at, samples, errors, w, advisor_every))
            for w in range(concurrency)
        ]
        await monitor(psutil.Process(pid), stop_at, points, max(1.0, duration / 60))
        # Requests in flight at the end get a grace period; any still running then are counted, not awaited.
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            errors["unfinished_at_end"] = len(pending)
    windows = []
    width = max(10.0, duration / 10)
    t = start
    while t < stop_at:
        lat = [s[1] for s in samples if t <= s[0] < t + width]
        windows.append(
            {
                "t_s": round(t - start),
                "requests": len(lat),
                "p50_s": round(percentile(lat, 50), 3),
                "p99_s": round(percentile(lat, 99), 3),
            }
        )
        t += width
    after = [p for p in points if p[0] - start >= warmup] or points
    rss_growth = (after[-1][1] - after[0][1]) / after[0][1] * 100 if after else float("nan")
    lat_all = [s[1] for s in samples]
    return {
        "duration_s": duration,
        "concurrency": concurrency,
        "requests": len(samples),
        "errors": errors,
        "error_count": sum(errors.values()),
        "p50_s": round(percentile(lat_all, 50), 3),
        "p99_s": round(percentile(lat_all, 99), 3),
        "rss_mb_start": round(points[0][1], 1) if points else None,
        "rss_mb_after_warmup": round(after[0][1], 1) if after else None,
        "rss_mb_end": round(points[-1][1], 1) if points else None,
        "rss_growth_after_warmup_pct": round(rss_growth, 2),
        "fds_start": points[0][2] if points else None,
        "fds_end": points[-1][2] if points else None,
        "windows": windows,
        "rss_series": [(round(p[0] - start, 1), round(p[1], 1), p[2]) for p in points],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=None, help="seconds excluded from RSS growth")
    parser.add_argument("--out", type=Path, default=Path("out/soak"))
    parser.add_argument("--url", help="an already-running server (otherwise one is started)")
    parser.add_argument(
        "--advisor-every",
        type=int,
        default=10,
        help="every Nth request is an advisor request (0 = chat only)",
    )
    parser.add_argument(
        "--grace", type=float, default=120, help="seconds allowed for in-flight requests at the end"
    )
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else min(60.0, args.duration / 4)
    proc = None
    url = args.url
    if url is None:
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "finadvisor.cli",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--index",
                str(args.out / "index"),
            ],
            cwd=ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, timeout_s=180)
    pid = (
        proc.pid
        if proc
        else next(
            c.pid for c in psutil.process_iter(["cmdline"]) if "serve" in " ".join(c.info["cmdline"] or [])
        )
    )
    try:
        result = asyncio.run(
            run(url, pid, args.duration, args.concurrency, warmup, args.advisor_every, args.grace)
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(result, indent=2))
    print(f"{'window':>8} {'requests':>9} {'p50 s':>8} {'p99 s':>8}")
    for w in result["windows"]:
        print(f"{w['t_s']:>8} {w['requests']:>9} {w['p50_s']:>8} {w['p99_s']:>8}")
    print(
        f"errors={result['errors']} rss {result['rss_mb_after_warmup']} -> {result['rss_mb_end']} MB "
        f"({result['rss_growth_after_warmup_pct']}% after warm-up), fds {result['fds_start']} -> {result['fds_end']}"
    )
    summary = {k: v for k, v in result.items() if k not in ("windows", "rss_series")}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
