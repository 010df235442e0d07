"""Hostile JSON schemas cannot starve other callers (issue 14 item 5), on the real default model over HTTP.

    python benchmarks/schema_limits_bench.py --out out/schema-limits      # starts `finadvisor serve`
    python benchmarks/schema_limits_bench.py --url http://127.0.0.1:8000 --out out/schema-limits

Three measurements:
1. Schemas over the caps of ``finadvisor/engines/schema_limits.py`` (minLength 100,000, maxItems 100,000,
   depth 40, 2,000 properties, a 1 MB enum): the time to the 400, which names the limit.
2. Worst-case schemas *at* the caps (minLength = maxLength = 512, 512 items, depth 12, 128 properties, a 16 kB
   schema): time to first token (grammar compile) and total time under ``max_tokens``.
3. A normal caller's latency alone, then while ``--hostile`` at-cap requests run at once; the ratio is the
   slowdown other callers see (they share the decode slots and the CPU, nothing else).

Prints a table; the last stdout line is one JSON record (also in OUT/result.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from finadvisor.engines.schema_limits import MAX_DEPTH, MAX_PROPERTIES, MAX_REPEAT  # noqa: E402


def nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": 8}
    for _ in range(depth - 1):
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
    return schema


OVER = {
    "minLength_100000": {"type": "string", "minLength": 100_000},
    "maxItems_100000": {
        "type": "array",
        "items": {"type": "integer"},
        "maxItems": 100_000,
        "minItems": 100_000,
    },
    "depth_40": nested(40),
    "properties_2000": {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(2000)}},
    "enum_1MB": {"enum": ["x" * 1000 + str(i) for i in range(1000)]},
}
AT_CAP = {
    "string_len_512": {
        "type": "object",
        "required": ["s"],
        "properties": {"s": {"type": "string", "minLength": MAX_REPEAT, "maxLength": MAX_REPEAT}},
    },
    "items_512": {
        "type": "array",
        "minItems": MAX_REPEAT,
        "maxItems": MAX_REPEAT,
        "items": {"type": "object", "required": ["k"], "properties": {"k": {"type": "integer"}}},
    },
    "depth_12": nested(MAX_DEPTH),
    "properties_128": {
        "type": "object",
        "required": [f"p{i}" for i in range(MAX_PROPERTIES)],
        "properties": {f"p{i}": {"type": "string", "maxLength": 64} for i in range(MAX_PROPERTIES)},
    },
}
NORMAL = {
    "messages": [{"role": "user", "content": "Tiết kiệm là gì? Trả lời một câu."}],
    "max_tokens": 32,
    "temperature": 0,
    "ignore_eos": True,
}


def body(schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": "Trả lời bằng JSON."}],
        "max_tokens": max_tokens,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }


async def timed_stream(client: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    first = None
    status = 0
    async with client.stream("POST", "/v1/chat/completions", json=payload | {"stream": True}) as r:
        status = r.status_code
        async for line in r.aiter_lines():
            if (
                first is None
                and line.startswith("data: {")
                and '"content":"' in line.replace(" ", "")
                and '"content":""' not in line.replace(" ", "")
            ):
                first = time.perf_counter() - t0
        if status != 200:
            await r.aread()
    return {
        "status": status,
        "ttft_s": round(first, 3) if first else None,
        "total_s": round(time.perf_counter() - t0, 3),
    }


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"over_cap": {}, "at_cap": {}}
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        for name, schema in OVER.items():
            t0 = time.perf_counter()
            r = await client.post("/v1/chat/completions", json=body(schema, 16))
            out["over_cap"][name] = {
                "status": r.status_code,
                "ms": round((time.perf_counter() - t0) * 1000, 1),
                "message": r.json()["error"]["message"][:90],
            }
        for name, schema in AT_CAP.items():
            out["at_cap"][name] = await timed_stream(client, body(schema, args.max_tokens))
        await timed_stream(client, NORMAL)  # warm
        alone = [await timed_stream(client, NORMAL) for _ in range(2)]
        hostile = [
            asyncio.create_task(timed_stream(client, body(s, args.max_tokens)))
            for s in list(AT_CAP.values())[: args.hostile]
        ]
        await asyncio.sleep(0.2)
        during = [await timed_stream(client, NORMAL) for _ in range(2)]
        await asyncio.gather(*hostile)
    alone_s = sum(x["total_s"] for x in alone) / len(alone)
    during_s = sum(x["total_s"] for x in during) / len(during)
    out |= {
        "normal_alone_s": round(alone_s, 3),
        "normal_during_hostile_s": round(during_s, 3),
        "slowdown": round(during_s / alone_s, 2),
        "hostile": args.hostile,
        "max_tokens": args.max_tokens,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--hostile", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--n-parallel", type=int, default=4)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    url = args.url
    with contextlib.ExitStack() as stack:
        if url is None:
            from finadvisor.models import default_model_path
            from tests.helpers import served

            model = default_model_path(
                Path(os.environ.get("FINADVISOR_CACHE_DIR", Path.home() / ".cache/finadvisor"))
            )
            env = os.environ | {
                "FINADVISOR_CACHE_DIR": str(args.out / "cache"),
                "FINADVISOR_INDEX_DIR": str(args.out / "index"),
                "FINADVISOR_MAX_BODY_BYTES": str(4_000_000),
            }
            log = stack.enter_context((args.out / "server.log").open("w"))
            url = stack.enter_context(
                served(
                    "--model",
                    str(model),
                    "--n-parallel",
                    str(args.n_parallel),
                    "--log-level",
                    "warning",
                    env=env,
                    stderr=log,
                )
            )
        result = asyncio.run(run(url, args))
    for name, r in result["over_cap"].items():
        print(f"over cap  {name:<18} HTTP {r['status']} in {r['ms']:>6} ms  {r['message']}")
    for name, r in result["at_cap"].items():
        print(f"at cap    {name:<18} HTTP {r['status']} ttft {r['ttft_s']} s  total {r['total_s']} s")
    print(
        f"normal caller: alone {result['normal_alone_s']} s, during {result['hostile']} hostile "
        f"{result['normal_during_hostile_s']} s (x{result['slowdown']})"
    )
    (args.out / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
