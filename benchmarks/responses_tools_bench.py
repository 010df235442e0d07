"""Issue 29 on the real default model, over HTTP, in one run: tool use on 20 prompts (chat and Responses form), and
``/v1/responses`` against ``/v1/chat/completions`` side by side (TTFT, tokens per second).

    python benchmarks/responses_tools_bench.py --out out/responses-tools          # starts `finadvisor serve`
    python benchmarks/responses_tools_bench.py --url http://127.0.0.1:8000 --out out/responses-tools

1. Tool use, 20 prompts (5 tools, 4 phrasings each, English and Vietnamese), ``tool_choice`` auto, temperature 0,
   every prompt in chat form and in Responses form:
   - *single call*: the answer calls exactly the expected function with arguments valid against its schema;
   - *answer after a tool result*: given the call and its result, the answer is text (no further call) that
     repeats the result's key value.
2. Side by side: the same prompt streamed through both endpoints, ``--rounds`` interleaved rounds (chat, responses,
   chat, ...) one request at a time, temperature 0, ``--max-tokens``. TTFT = first text delta; tok/s = output
   tokens / (last delta - first delta).

Prints a table; the last stdout line is one JSON record (also written to OUT/result.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from openai_compat_bench import TOOLS  # noqa: E402  (the issue-15 tool set: 5 functions)

# (prompt, expected tool, canonical arguments, the tool's result, a value the answer should repeat)
CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("What is the weather in Hanoi right now?", "get_weather", {"city": "Hanoi"}, "31°C, sunny", "31"),
    ("Thời tiết ở Đà Nẵng hôm nay thế nào?", "get_weather", {"city": "Đà Nẵng"}, "27°C, mưa nhẹ", "27"),
    ("Is it raining in Ho Chi Minh City?", "get_weather", {"city": "Ho Chi Minh City"}, "Rain, 29°C", "29"),
    ("Check the current weather in Tokyo.", "get_weather", {"city": "Tokyo"}, "12°C, cloudy", "12"),
    (
        "Convert 100 US dollars to Vietnamese dong.",
        "convert_currency",
        {"amount": 100, "from_currency": "USD", "to_currency": "VND"},
        "2,540,000 VND",
        "2,540,000",
    ),
    (
        "Đổi 50 euro sang đô la Mỹ.",
        "convert_currency",
        {"amount": 50, "from_currency": "EUR", "to_currency": "USD"},
        "54.20 USD",
        "54.2",
    ),
    (
        "How much is 2000 yen in US dollars?",
        "convert_currency",
        {"amount": 2000, "from_currency": "JPY", "to_currency": "USD"},
        "13.40 USD",
        "13.4",
    ),
    (
        "Convert 1,000,000 VND to EUR.",
        "convert_currency",
        {"amount": 1000000, "from_currency": "VND", "to_currency": "EUR"},
        "36.10 EUR",
        "36.1",
    ),
    (
        "What is the exchange rate from EUR to USD today?",
        "get_exchange_rate",
        {"base": "EUR", "quote": "USD"},
        "1.084",
        "1.084",
    ),
    (
        "Tỷ giá USD sang VND hôm nay là bao nhiêu?",
        "get_exchange_rate",
        {"base": "USD", "quote": "VND"},
        "25,400",
        "25,400",
    ),
    (
        "Give me the GBP to JPY exchange rate.",
        "get_exchange_rate",
        {"base": "GBP", "quote": "JPY"},
        "191.3",
        "191.3",
    ),
    (
        "What's the current rate between the Swiss franc and the euro?",
        "get_exchange_rate",
        {"base": "CHF", "quote": "EUR"},
        "1.046",
        "1.046",
    ),
    (
        "Send an email to an@example.com with subject 'Hello' and body 'See you tomorrow'.",
        "send_email",
        {"to": "an@example.com", "subject": "Hello", "body": "See you tomorrow"},
        "sent, id 4711",
        "4711",
    ),
    (
        "Gửi email cho binh@example.com, tiêu đề 'Hóa đơn', nội dung 'Đã thanh toán'.",
        "send_email",
        {"to": "binh@example.com", "subject": "Hóa đơn", "body": "Đã thanh toán"},
        "sent, id 4712",
        "4712",
    ),
    (
        "Email my boss at boss@example.com: subject 'Late', body 'Stuck in traffic'.",
        "send_email",
        {"to": "boss@example.com", "subject": "Late", "body": "Stuck in traffic"},
        "sent, id 4713",
        "4713",
    ),
    (
        "Please mail hr@example.com with subject 'Leave' and body 'Off on Friday'.",
        "send_email",
        {"to": "hr@example.com", "subject": "Leave", "body": "Off on Friday"},
        "sent, id 4714",
        "4714",
    ),
    (
        "What is the balance of my bank account ACC-123?",
        "get_account_balance",
        {"account_id": "ACC-123"},
        "4,250,000 VND",
        "4,250,000",
    ),
    (
        "Số dư tài khoản ACC-456 của tôi là bao nhiêu?",
        "get_account_balance",
        {"account_id": "ACC-456"},
        "12,000,000 VND",
        "12,000,000",
    ),
    (
        "How much money is left in account SAV-9?",
        "get_account_balance",
        {"account_id": "SAV-9"},
        "830 USD",
        "830",
    ),
    (
        "Check the balance for account number 001-778.",
        "get_account_balance",
        {"account_id": "001-778"},
        "15.75 EUR",
        "15.75",
    ),
]
PROMPT = "Viết một đoạn văn ngắn về lợi ích của việc tiết kiệm tiền mỗi tháng cho sinh viên."


def _schema(name: str) -> dict[str, Any]:
    return next(t["function"]["parameters"] for t in TOOLS if t["function"]["name"] == name)


def _valid_call(name: str, arguments: str, expected: str) -> bool:
    import jsonschema

    try:
        jsonschema.validate(json.loads(arguments), _schema(expected))
    except (ValueError, jsonschema.ValidationError):
        return False
    return name == expected


def _answered(text: str, calls: int, value: str) -> dict[str, bool]:
    plain = text.replace(" ", "")
    return {
        "text": calls == 0 and bool(text.strip()),
        "uses_result": calls == 0 and value.replace(" ", "") in plain,
    }


RESPONSES_TOOLS = [{"type": "function", **t["function"]} for t in TOOLS]


async def chat_case(client: httpx.AsyncClient, case: tuple, max_tokens: int) -> dict[str, Any]:
    prompt, expected, args, result, value = case
    base = {"max_tokens": max_tokens, "temperature": 0, "tools": TOOLS}
    r = (
        await client.post(
            "/v1/chat/completions", json=base | {"messages": [{"role": "user", "content": prompt}]}
        )
    ).json()
    calls = r["choices"][0]["message"].get("tool_calls") or []
    single = len(calls) == 1 and _valid_call(
        calls[0]["function"]["name"], calls[0]["function"]["arguments"], expected
    )
    history = [
        {"role": "user", "content": prompt},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": expected, "arguments": json.dumps(args, ensure_ascii=False)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": result},
    ]
    a = (await client.post("/v1/chat/completions", json=base | {"messages": history})).json()["choices"][0]
    return {
        "single_call": single,
        "finish": r["choices"][0]["finish_reason"],
        **_answered(a["message"].get("content") or "", len(a["message"].get("tool_calls") or []), value),
    }


async def responses_case(client: httpx.AsyncClient, case: tuple, max_tokens: int) -> dict[str, Any]:
    prompt, expected, args, result, value = case
    base = {"max_output_tokens": max_tokens, "temperature": 0, "tools": RESPONSES_TOOLS}
    r = (await client.post("/v1/responses", json=base | {"input": prompt})).json()
    calls = [o for o in r["output"] if o["type"] == "function_call"]
    single = len(calls) == 1 and _valid_call(calls[0]["name"], calls[0]["arguments"], expected)
    items = [
        {"role": "user", "content": prompt},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": expected,
            "arguments": json.dumps(args, ensure_ascii=False),
        },
        {"type": "function_call_output", "call_id": "call_1", "output": result},
    ]
    a = (await client.post("/v1/responses", json=base | {"input": items})).json()
    text = "".join(c["text"] for o in a["output"] if o["type"] == "message" for c in o["content"])
    return {
        "single_call": single,
        "status": r["status"],
        **_answered(text, sum(o["type"] == "function_call" for o in a["output"]), value),
    }


async def tool_use(client: httpx.AsyncClient, max_tokens: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for form, run in (("chat", chat_case), ("responses", responses_case)):
        rows = []
        for case in CASES:
            rows.append(await run(client, case, max_tokens))
        out[form] = {
            "prompts": len(rows),
            "single_call": sum(r["single_call"] for r in rows),
            "answer_after_result": sum(r["text"] for r in rows),
            "answer_uses_result": sum(r["uses_result"] for r in rows),
            "rows": rows,
        }
    return out


async def timed_stream(client: httpx.AsyncClient, path: str, max_tokens: int) -> dict[str, float]:
    if path == "/v1/chat/completions":
        body: dict[str, Any] = {
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    else:
        body = {"input": PROMPT, "max_output_tokens": max_tokens, "temperature": 0, "stream": True}
    start = time.perf_counter()
    first = last = None
    tokens = 0
    async with client.stream("POST", path, json=body) as r:
        async for line in r.aiter_lines():
            if not line.startswith("data: {"):
                continue
            event = json.loads(line[6:])
            text = (
                event.get("delta")
                if event.get("type") == "response.output_text.delta"
                else ((event.get("choices") or [{}])[0].get("delta") or {}).get("content")
            )
            if text:
                last = time.perf_counter()
                first = first or last
            if event.get("type") in ("response.completed", "response.incomplete"):
                tokens = event["response"]["usage"]["output_tokens"]
            elif event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
    assert first is not None and last is not None and tokens > 1, (path, tokens)
    return {"ttft_s": first - start, "tok_s": (tokens - 1) / (last - first), "tokens": tokens}


async def side_by_side(client: httpx.AsyncClient, rounds: int, max_tokens: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"chat": [], "responses": []}
    await timed_stream(client, "/v1/chat/completions", max_tokens)  # warm the prompt cache and the code paths
    await timed_stream(client, "/v1/responses", max_tokens)
    for _ in range(rounds):
        runs["chat"].append(await timed_stream(client, "/v1/chat/completions", max_tokens))
        runs["responses"].append(await timed_stream(client, "/v1/responses", max_tokens))
    summary = {
        k: {
            "ttft_s_median": round(statistics.median(r["ttft_s"] for r in v), 4),
            "tok_s_median": round(statistics.median(r["tok_s"] for r in v), 2),
            "tokens": [int(r["tokens"]) for r in v],
            "runs": [{m: round(x, 4) for m, x in r.items()} for r in v],
        }
        for k, v in runs.items()
    }
    summary["responses_over_chat_ttft"] = round(
        summary["responses"]["ttft_s_median"] / summary["chat"]["ttft_s_median"], 3
    )
    summary["responses_over_chat_tok_s"] = round(
        summary["responses"]["tok_s_median"] / summary["chat"]["tok_s_median"], 3
    )
    return summary


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        tools = await tool_use(client, args.tool_max_tokens)
        speed = await side_by_side(client, args.rounds, args.max_tokens)
    return {
        "bench": "responses_tools",
        "model": "qwen2.5-coder-0.5b-instruct",
        "tools": tools,
        "speed": speed,
        "rounds": args.rounds,
        "max_tokens": args.max_tokens,
        "tool_max_tokens": args.tool_max_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", help="a running server; default: start `finadvisor serve` on the default model"
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--tool-max-tokens", type=int, default=128)
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
                    "--model", str(model), "--n-parallel", "1", "--log-level", "warning", env=env, stderr=log
                )
            )
        result = asyncio.run(run(url, args))
    print(f"{'tool use (20 prompts)':<34}{'chat':>10}{'responses':>11}")
    for key in ("single_call", "answer_after_result", "answer_uses_result"):
        print(f"{key:<34}{result['tools']['chat'][key]:>10}{result['tools']['responses'][key]:>11}")
    s = result["speed"]
    print(f"{'TTFT median (s)':<34}{s['chat']['ttft_s_median']:>10}{s['responses']['ttft_s_median']:>11}")
    print(f"{'tok/s median':<34}{s['chat']['tok_s_median']:>10}{s['responses']['tok_s_median']:>11}")
    print(
        f"{'responses / chat':<34}{'TTFT ' + str(s['responses_over_chat_ttft']):>10}"
        f"{'tok/s ' + str(s['responses_over_chat_tok_s']):>11}"
    )
    (args.out / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
