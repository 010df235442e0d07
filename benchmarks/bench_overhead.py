"""How fast is the load generator itself? Drive a trivial local SSE stub and measure requests/s and client CPU.

The stub (a raw ASGI app on uvicorn + httptools, in its own process) answers every chat request at once with one
token, a usage chunk and [DONE], so everything measured is overhead: the stub's and ``finadvisor bench``'s. Client
CPU per request (process time / requests) gives the client's own ceiling independent of the stub's share of the
cores.

    .venv/bin/python benchmarks/bench_overhead.py --requests 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BODY = (
    b'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n'
    b"data: [DONE]\n\n"
)
MODELS = b'{"object":"list","data":[{"id":"stub","object":"model"}]}'


async def stub_app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if scope["path"].endswith("/models"):
        body, ctype = MODELS, b"application/json"
    else:
        body, ctype = BODY, b"text/event-stream"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(
        stub_app,
        host="127.0.0.1",
        port=port,
        log_level="critical",
        access_log=False,
        lifespan="off",
        http="httptools" if _has("httptools") else "h11",
        loop="uvloop" if _has("uvloop") else "asyncio",
    )


def _has(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("stub server did not start")


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process (the stub), via psutil."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument(
        "--loop", choices=["uvloop", "asyncio"], default="uvloop" if _has("uvloop") else "asyncio"
    )
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return

    from finadvisor.bench.runner import BenchConfig, Sweep, make_workload, run_sweep

    port = _free_port()
    stub = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    rows = []
    try:
        _wait(port)
        for level in [int(c) for c in args.concurrency.split(",")]:
            config = BenchConfig(
                url=f"http://127.0.0.1:{port}",
                concurrency=[level],
                requests=args.requests,
                warmup=min(level, 100),
                timeout_s=30,
            )
            sweep = Sweep(config)
            stub_cpu0 = _cpu(stub.pid)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            coro = run_sweep(config, sweep, workload=make_workload(config))
            if args.loop == "uvloop":
                import uvloop

                uvloop.run(coro)
            else:
                asyncio.run(coro)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            stub_cpu = _cpu(stub.pid) - stub_cpu0
            lv = sweep.levels[0]
            n = lv["requests"] + config.warmup
            rows.append(
                {
                    "concurrency": level,
                    "requests": lv["requests"],
                    "failed": lv["failed"],
                    "req_per_s": lv["request_throughput"],
                    "client_cpu_us_per_req": cpu / n * 1e6,
                    "client_ceiling_req_per_s": n / cpu if cpu else None,
                    "wall_s": wall,
                    "stub_cpu_us_per_req": stub_cpu / n * 1e6,
                    "p50_latency_ms": (lv["latency"]["median"] or 0) * 1000,
                }
            )
    finally:
        stub.terminate()
        stub.wait(timeout=10)

    print(
        f"{'conc':>5} {'req/s':>9} {'client CPU us/req':>18} {'client ceiling req/s':>21} "
        f"{'stub CPU us/req':>16} {'p50 ms':>8} {'failed':>7}"
    )
    for r in rows:
        print(
            f"{r['concurrency']:>5} {r['req_per_s']:>9.0f} {r['client_cpu_us_per_req']:>18.0f} "
            f"{r['client_ceiling_req_per_s']:>21.0f} {r['stub_cpu_us_per_req']:>16.0f} "
            f"{r['p50_latency_ms']:>8.2f} {r['failed']:>7}"
        )
    print(
        json.dumps(
            {
                "bench": "overhead",
                "loop": args.loop,
                "cores": os.cpu_count(),
                "levels": rows,
                "best_req_per_s": max(r["req_per_s"] for r in rows),
            }
        )
    )


if __name__ == "__main__":
    main()
