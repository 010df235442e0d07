"""Issue 15's two targets on the real default model, over HTTP, in one run.

    python benchmarks/openai_compat_bench.py --out out/openai-compat            # starts `finadvisor serve`
    python benchmarks/openai_compat_bench.py --url http://127.0.0.1:8000 --out out/openai-compat

1. Tool calls: a request with 5 tools on a task that obviously needs one, ``--tries`` times, with the SDK's
   defaults (no temperature: llama.cpp samples at 0.8). A try counts when the answer has ``tool_calls`` whose
   function is the expected one and whose arguments are valid JSON matching the tool's schema (jsonschema).
   Measured for ``tool_choice`` auto (parsed from the model's text) and required (schema-constrained), on one task
   and on five tasks (one per tool).
2. Throughput: ``/v1/completions`` against ``/v1/chat/completions`` on the same prompt text, ``ignore_eos`` and the
   same ``max_tokens``, ``--concurrency`` requests at a time, rounds interleaved (chat, completions, chat, ...) so
   that machine noise hits both. Throughput = completion tokens / wall time.

Prints a table; the last stdout line is one JSON record (also written to OUT/result.json).
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


def fn(name: str, desc: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


TOOLS = [
    fn("get_weather", "Get the current weather for a city", {"city": {"type": "string"}}, ["city"]),
    fn(
        "convert_currency",
        "Convert an amount of money from one currency to another",
        {
            "amount": {"type": "number"},
            "from_currency": {"type": "string"},
            "to_currency": {"type": "string"},
        },
        ["amount", "from_currency", "to_currency"],
    ),
    fn(
        "get_exchange_rate",
        "Get the exchange rate between two currencies",
        {"base": {"type": "string"}, "quote": {"type": "string"}},
        ["base", "quote"],
    ),
    fn(
        "send_email",
        "Send an email",
        {"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}},
        ["to", "subject", "body"],
    ),
    fn(
        "get_account_balance",
        "Get the balance of a bank account",
        {"account_id": {"type": "string"}},
        ["account_id"],
    ),
]
TASKS = [
    ("What is the weather in Hanoi right now?", "get_weather"),
    ("Convert 100 US dollars to Vietnamese dong.", "convert_currency"),
    ("What is the exchange rate from EUR to USD today?", "get_exchange_rate"),
    ("Send an email to an@example.com with subject 'Hello' and body 'See you tomorrow'.", "send_email"),
    ("What is the balance of my bank account ACC-123?", "get_account_balance"),
]
PROMPT = "Viết một đoạn văn ngắn về lợi ích của việc tiết kiệm tiền mỗi tháng cho sinh viên."


def well_formed(body: dict[str, Any], expected: str) -> bool:
    import jsonschema

    calls = (body.get("choices") or [{}])[0].get("message", {}).get("tool_calls") or []
    if not calls:
        return False
    call = calls[0]
    schema = next(t["function"]["parameters"] for t in TOOLS if t["function"]["name"] == expected)
    try:
        args = json.loads(call["function"]["arguments"])
        jsonschema.validate(args, schema)
    except (ValueError, jsonschema.ValidationError):
        return False
    return bool(call["function"]["name"] == expected and call.get("id"))


async def tool_trials(
    client: httpx.AsyncClient, tries: int, choice: str, tasks: list[tuple[str, str]]
) -> dict[str, Any]:
    ok, seconds, failures = 0, [], []
    for i in range(tries):
        text, expected = tasks[i % len(tasks)]
        t0 = time.perf_counter()
        r = await client.post(
            "/v1/chat/completions",
            json={
                "model": "qwen2.5-coder-0.5b-instruct",
                "messages": [{"role": "user", "content": text}],
                "tools": TOOLS,
                "tool_choice": choice,
                "max_tokens": 120,
            },
        )
        seconds.append(time.perf_counter() - t0)
        body = r.json()
        if r.status_code == 200 and well_formed(body, expected):
            ok += 1
        else:
            failures.append(json.dumps((body.get("choices") or [body])[0], ensure_ascii=False)[:800])
    return {
        "ok": ok,
        "tries": tries,
        "mean_s": round(sum(seconds) / len(seconds), 2),
        "failures": failures[:3],
    }


async def throughput(
    client: httpx.AsyncClient, path: str, n: int, concurrency: int, max_tokens: int
) -> float:
    body: dict[str, Any] = {"max_tokens": max_tokens, "temperature": 0, "ignore_eos": True}
    if path.endswith("chat/completions"):
        body["messages"] = [{"role": "user", "content": PROMPT}]
    else:
        body["prompt"] = PROMPT
    sem = asyncio.Semaphore(concurrency)
    tokens = 0

    async def one() -> None:
        nonlocal tokens
        async with sem:
            r = await client.post(path, json=body)
            r.raise_for_status()
            tokens += r.json()["usage"]["completion_tokens"]

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return tokens / (time.perf_counter() - t0)


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        tools = {
            "auto_one_task": await tool_trials(client, args.tries, "auto", TASKS[:1]),
            "auto_five_tasks": await tool_trials(client, args.tries, "auto", TASKS),
            "required_five_tasks": await tool_trials(client, args.tries, "required", TASKS),
        }
        chat, completions = [], []
        await throughput(client, "/v1/completions", 2, 2, 8)  # warm both paths
        await throughput(client, "/v1/chat/completions", 2, 2, 8)
        for _ in range(args.rounds):
            chat.append(
                await throughput(
                    client, "/v1/chat/completions", args.requests, args.concurrency, args.max_tokens
                )
            )
            completions.append(
                await throughput(client, "/v1/completions", args.requests, args.concurrency, args.max_tokens)
            )
    chat_tps, comp_tps = sum(chat) / len(chat), sum(completions) / len(completions)
    return {
        "tools": tools,
        "chat_tok_s": round(chat_tps, 2),
        "completions_tok_s": round(comp_tps, 2),
        "completions_over_chat": round(comp_tps / chat_tps, 3),
        "rounds_chat": [round(x, 2) for x in chat],
        "rounds_completions": [round(x, 2) for x in completions],
        "concurrency": args.concurrency,
        "requests_per_round": args.requests,
        "max_tokens": args.max_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", help="a running server; default: start `finadvisor serve` on the default model"
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
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
            }
            log = stack.enter_context((args.out / "server.log").open("w"))
            url = stack.enter_context(
                served(
                    "--model",
                    str(model),
                    "--n-parallel",
                    str(args.concurrency),
                    "--log-level",
                    "warning",
                    env=env,
                    stderr=log,
                )
            )
        result = asyncio.run(run(url, args))
    print(f"{'measure':<28}{'value':>12}")
    for name, t in result["tools"].items():
        print(f"{'tools ' + name:<28}{str(t['ok']) + '/' + str(t['tries']):>12}   mean {t['mean_s']} s")
    print(f"{'chat tok/s':<28}{result['chat_tok_s']:>12}")
    print(f"{'completions tok/s':<28}{result['completions_tok_s']:>12}")
    print(f"{'completions / chat':<28}{result['completions_over_chat']:>12}")
    (args.out / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
