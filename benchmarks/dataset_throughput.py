"""Throughput and peak memory of ``finadvisor dataset build`` on a synthetic source.

    python benchmarks/dataset_throughput.py --items 50000 --out-dir /tmp/ds-bench

Writes synthetic sources (JSONL, streamed line by line; Next.js JSON, one document parsed whole) with N distinct
Vietnamese-like pairs (with some HTML, 2% exact duplicates and 2% near duplicates), then builds each in a fresh
subprocess and reports items/s and the peak RSS of that process (``VmHWM`` from /proc: unlike ``ru_maxrss`` it is
not inherited from the parent across fork+exec) above its RSS after imports.
Prints a table; the last line is one JSON record.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

SYLLABLES = (
    "phí rút tiền nạp ví hạn mức ngân hàng liên kết thanh toán hóa đơn điện nước mã pin otp khóa mở tài "
    "khoản định danh căn cước thẻ quốc tế chuyển tiền bạn bè ưu đãi điểm thưởng hạng thành viên tiết kiệm "
    "lãi suất kỳ hạn trả sau dư nợ bảo hiểm vé xe máy bay khách sạn giao dịch hoàn tiền khiếu nại hỗ trợ "
    "tổng đài ứng dụng cập nhật bảo mật thiết bị đăng nhập giới hạn mỗi ngày tháng lần đồng triệu"
).split()


def synthetic_pairs(n: int, seed: int = 0):
    rng = random.Random(seed)
    made: list[tuple[str, str]] = []
    for i in range(n):
        roll = rng.random()
        if made and roll < 0.02:
            q, a = rng.choice(made)  # exact duplicate
        elif made and roll < 0.04:
            q, a = rng.choice(made)
            q = q.rstrip("?") + " ạ?"  # near duplicate
        else:
            q = " ".join(rng.choices(SYLLABLES, k=rng.randint(6, 12))).capitalize() + f" {i}?"
            a = (
                f"<p>{' '.join(rng.choices(SYLLABLES, k=rng.randint(15, 40))).capitalize()} {rng.randint(1, 999)}.000đ."
                f"</p><ul><li>{' '.join(rng.choices(SYLLABLES, k=8))}</li></ul>"
            )
            if len(made) < 5000:
                made.append((q, a))
        yield q, a


def write_sources(n: int, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    jsonl = folder / f"synthetic_{n}.jsonl"
    with jsonl.open("w", encoding="utf-8") as handle:
        for q, a in synthetic_pairs(n):
            handle.write(json.dumps({"instruction": q, "answer": a}, ensure_ascii=False) + "\n")
    nextjs = folder / f"synthetic_{n}.json"
    articles = [{"title": q, "description_text": a} for q, a in synthetic_pairs(n)]
    nextjs.write_text(
        json.dumps({"pageProps": {"data": {"articles": articles}}}, ensure_ascii=False), encoding="utf-8"
    )
    return {"jsonl": jsonl, "nextjs": nextjs}


def _proc_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best effort


def child(source: str, out: str) -> None:
    """Run one build in this (fresh) process and print its measurements as JSON."""
    from finadvisor.dataset.build import build_dataset

    base_kb = _proc_kb("VmRSS")
    started = time.perf_counter()
    report = build_dataset(
        [source], Path(out), eval_out=Path(out).with_suffix(".eval.jsonl"), write_report=False
    )
    seconds = time.perf_counter() - started
    peak_kb = _proc_kb("VmHWM")
    print(
        json.dumps(
            {
                "items_in": report.items_in,
                "kept": report.kept,
                "dropped": dict(report.dropped),
                "seconds": round(seconds, 2),
                "items_per_s": round(report.items_in / seconds),
                "rss_after_imports_mb": round(base_kb / 1024, 1),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "peak_above_imports_mb": round((peak_kb - base_kb) / 1024, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument(
        "--small", type=int, default=5_000, help="a second, smaller run to show memory scaling"
    )
    parser.add_argument("--out-dir", type=Path, default=Path("bench-out/dataset"))
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    results = []
    for n in (args.small, args.items):
        sources = write_sources(n, args.out_dir)
        for kind, path in sources.items():
            out = args.out_dir / f"built_{kind}_{n}.jsonl"
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row.update({"source": kind, "n": n, "source_mb": round(path.stat().st_size / 2**20, 1)})
            results.append(row)
    print(
        f"{'source':8} {'items':>7} {'src MB':>7} {'kept':>7} {'s':>6} {'items/s':>8} {'peak RSS MB':>11} "
        f"{'above imports':>13}"
    )
    for r in results:
        print(
            f"{r['source']:8} {r['n']:>7} {r['source_mb']:>7} {r['kept']:>7} {r['seconds']:>6} {r['items_per_s']:>8} "
            f"{r['peak_rss_mb']:>11} {r['peak_above_imports_mb']:>13}"
        )
    big = {r["source"]: r for r in results if r["n"] == args.items}
    print(
        json.dumps(
            {
                "benchmark": "dataset_throughput",
                "items": args.items,
                "jsonl_items_per_s": big["jsonl"]["items_per_s"],
                "jsonl_peak_above_imports_mb": big["jsonl"]["peak_above_imports_mb"],
                "nextjs_items_per_s": big["nextjs"]["items_per_s"],
                "nextjs_peak_above_imports_mb": big["nextjs"]["peak_above_imports_mb"],
                "runs": results,
            }
        )
    )


if __name__ == "__main__":
    main()
