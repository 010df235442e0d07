"""Serving figures for the embedded engine, measured side by side in one run.

    python benchmarks/serve_bench.py --out out/serve-bench [--max-tokens 256] [--n-threads 2]

1. Single stream: generation tokens/s through our HTTP API (``finadvisor serve``, streamed) versus the same
   llama.cpp engine called directly in-process (xllamacpp ``handle_chat_completions``), same prompt and model.
2. Batching: aggregate generation tokens/s at concurrency 4 versus 1, through the HTTP API, 256-token completions
   (``ignore_eos`` so every request decodes the full budget and decoding dominates).
3. Overlap: at concurrency 4, every request's first token arrives before a lone request of the same length ends.
4. Memory: RSS of the ``finadvisor serve`` process with the default model, idle and after the runs.
Prints a table; the last stdout line is one JSON record.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port, wait_healthy  # noqa: E402

PROMPT = "Viết một bài văn dài về cách quản lý tài chính cá nhân cho người trẻ, số {i}."


def direct(model: str, n_threads: int, max_tokens: int, n_parallel: int) -> dict:
    import xllamacpp as xlc

    p = xlc.CommonParams()
    p.model.path = model
    p.n_ctx, p.n_parallel, p.verbosity = 8192, n_parallel, -1
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = n_threads
    p.flash_attn_type = xlc.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED
    server = xlc.Server(p)
    body = {
        "messages": [{"role": "user", "content": PROMPT.format(i=0)}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "ignore_eos": True,
    }
    server.handle_chat_completions(body | {"max_tokens": 8})  # warm-up
    r = server.handle_chat_completions(body | {"messages": [{"role": "user", "content": PROMPT.format(i=1)}]})
    t = r["timings"]
    del server
    return {"gen_tok_s": t["predicted_per_second"], "tokens": t["predicted_n"]}


def stream_one(url: str, i: int, max_tokens: int, out: list, idx: int) -> None:
    start = time.perf_counter()
    first = None
    chunks = 0
    usage = None
    body = {
        "messages": [{"role": "user", "content": PROMPT.format(i=i)}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": True,
    }
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=600) as r:
        for line in r.iter_lines():
            if not line.startswith("data: {"):
                continue
            event = json.loads(line[6:])
            if event.get("usage"):
                usage = event["usage"]
            if event["choices"] and event["choices"][0]["delta"].get("content"):
                chunks += 1
                first = first or time.perf_counter()
    end = time.perf_counter()
    tokens = usage["completion_tokens"] if usage else chunks
    out[idx] = {
        "ttft": first - start if first else None,
        "e2e": end - start,
        "tokens": tokens,
        "decode_tok_s": (tokens - 1) / (end - first) if first and end > first and tokens > 1 else 0.0,
    }


def concurrent(url: str, n: int, max_tokens: int, base: int) -> dict:
    results: list = [None] * n
    threads = [
        threading.Thread(target=stream_one, args=(url, base + k, max_tokens, results, k)) for k in range(n)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    tokens = sum(r["tokens"] for r in results)
    return {
        "concurrency": n,
        "wall_s": wall,
        "tokens": tokens,
        "agg_tok_s": tokens / wall,
        "ttft_max_s": max(r["ttft"] for r in results),
        "e2e_max_s": max(r["e2e"] for r in results),
        "per_request": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out/serve-bench"))
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--n-threads", type=int, default=2)
    parser.add_argument("--n-parallel", type=int, default=4)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from finadvisor.models import default_model_path
    from finadvisor.settings import Settings

    model = str(default_model_path(Settings().cache_dir))
    ref = direct(model, args.n_threads, args.max_tokens, args.n_parallel)
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
            "--n-threads",
            str(args.n_threads),
            "--n-parallel",
            str(args.n_parallel),
        ],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout_s=180)
        ps = psutil.Process(proc.pid)
        rss_idle = ps.memory_info().rss / 2**20
        warm: list = [None]
        stream_one(url, 99, 8, warm, 0)
        single: list = [None]
        stream_one(url, 1, args.max_tokens, single, 0)
        c1 = concurrent(url, 1, args.max_tokens, 10)
        c4 = concurrent(url, 4, args.max_tokens, 20)
        rss_after = ps.memory_info().rss / 2**20
    finally:
        proc.terminate()
        proc.wait(30)
    result = {
        "model": Path(model).name,
        "n_threads": args.n_threads,
        "n_parallel": args.n_parallel,
        "max_tokens": args.max_tokens,
        "direct_gen_tok_s": round(ref["gen_tok_s"], 2),
        "http_gen_tok_s": round(single[0]["decode_tok_s"], 2),
        "http_vs_direct": round(single[0]["decode_tok_s"] / ref["gen_tok_s"], 3),
        "c1_agg_tok_s": round(c1["agg_tok_s"], 2),
        "c4_agg_tok_s": round(c4["agg_tok_s"], 2),
        "batching_ratio": round(c4["agg_tok_s"] / c1["agg_tok_s"], 3),
        "single_e2e_s": round(c1["e2e_max_s"], 2),
        "c4_ttft_max_s": round(c4["ttft_max_s"], 2),
        "overlap_ok": c4["ttft_max_s"] < c1["e2e_max_s"],
        "rss_idle_mb": round(rss_idle),
        "rss_after_mb": round(rss_after),
    }
    (args.out / "serve_bench.json").write_text(json.dumps(result | {"c1": c1, "c4": c4}, indent=2))
    for key, value in result.items():
        print(f"{key:<20} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
