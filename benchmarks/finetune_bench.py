"""Seconds per LoRA training step and peak RSS on this machine, for the default (or a given) base model.

    python benchmarks/finetune_bench.py --out /tmp/ftbench            # Qwen2.5 0.5B GGUF, r=8, batch 2 x 256
    python benchmarks/finetune_bench.py --out /tmp/ftbench --steps 5 --rank 16 --length 192

Every example is padded with answer text to exactly --length tokens, so a step always sees batch x length tokens.
The first step (allocator and autograd warm-up) is reported separately from the mean of the rest. Prints a table;
the last stdout line is one JSON record.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def synthetic_jsonl(path: Path, n: int) -> Path:
    answer = (
        "Bạn mở ứng dụng FinAdvisor Ví, chọn mục Chuyển tiền, nhập số tài khoản và số tiền, "
        "kiểm tra phí rồi xác nhận bằng mã PIN. "
    ) * 12
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            msgs = [
                {"role": "system", "content": "Bạn là trợ lý của ví điện tử FinAdvisor Ví."},
                {"role": "user", "content": f"Câu hỏi số {i}: làm sao để chuyển tiền?"},
                {"role": "assistant", "content": answer},
            ]
            fh.write(json.dumps({"type": "chatml", "messages": msgs}, ensure_ascii=False) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder for the data, adapter and results")
    ap.add_argument("--base", default=None, help="HF folder or GGUF (default: packaged Qwen2.5 0.5B)")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--length", type=int, default=256)
    args = ap.parse_args()

    from finadvisor.finetune.config import build_config
    from finadvisor.finetune.train import train

    args.out.mkdir(parents=True, exist_ok=True)
    data = synthetic_jsonl(args.out / "bench.jsonl", args.steps * args.batch)
    out = args.out / f"adapter-{int(time.time())}"
    cfg = build_config(
        data=data,
        out=out,
        base=args.base,
        rank=args.rank,
        alpha=2 * args.rank,
        batch_size=args.batch,
        max_length=args.length,
        max_steps=args.steps,
        save_steps=10_000,
        export_gguf=False,
    )
    t0 = time.perf_counter()
    result = train(cfg, progress=False)
    wall = time.perf_counter() - t0
    steps = [r for r in result.log_history if "loss" in r]
    times = []
    with open(out / "train_log.jsonl") as fh:
        stamps = [json.loads(line)["time"] for line in fh if "loss" in line and "train_loss" not in line]
    times = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    record = {
        "bench": "finetune_step",
        "base": str(cfg.base or "packaged qwen2.5-coder-0.5b q4_k_m gguf (fp32)"),
        "rank": args.rank,
        "batch": args.batch,
        "length": args.length,
        "steps": len(steps),
        "tokens_per_step": args.batch * args.length,
        "assistant_tokens": result.stats.assistant_tokens,
        "mean_s_per_step_after_first": round(sum(times) / len(times), 2) if times else None,
        "train_s_per_step_incl_first": round(result.seconds_per_step or 0, 2),
        "wall_s_incl_load": round(wall, 1),
        "peak_rss_gb": round(rss_gb, 2),
        "threads": os.cpu_count(),
        "first_loss": result.first_loss,
        "last_loss": result.last_loss,
    }
    print(f"{'base':<22}{record['base']}")
    for key in (
        "rank",
        "batch",
        "length",
        "steps",
        "mean_s_per_step_after_first",
        "train_s_per_step_incl_first",
        "wall_s_incl_load",
        "peak_rss_gb",
    ):
        print(f"{key:<30}{record[key]}")
    (args.out / "finetune_bench.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record))


if __name__ == "__main__":
    main()
