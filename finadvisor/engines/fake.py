"""A deterministic engine for tests and demos (the equivalent of simonw/llm's MockModel).

It replies with scripted text, or, when a JSON schema is given, with the smallest document that satisfies it
(first enum value, minimum array length, required keys only). Timing can be scripted per token to test the
server and the benchmark without a model. With tools (and ``tool_choice`` other than "none") it calls the named
or first tool with schema-valid arguments; with ``logprobs`` each piece gets a fixed log-probability; a raw
``prompt`` (``/v1/completions``) gets the prompt echoed back. Every capability flag is on, so the fake serves as
the reference for the routes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from finadvisor.engines.base import Delta, GenerationRequest
from finadvisor.engines.tools import (
    ConstrainedToolStream,
    call_deltas,
    named_choice,
    new_call_id,
    wants_constraint,
)

Script = Callable[[GenerationRequest], str]


FILLER = "Tiết kiệm đều đặn mỗi tháng giúp bạn chủ động hơn với các khoản chi tiêu. "


def _instance(schema: dict[str, Any], depth: int = 0, index: int = 0) -> Any:
    """A value valid against a (simple) JSON schema; array items differ by position (distinct enum picks)."""
    if depth > 8:
        return None
    if "enum" in schema:
        return schema["enum"][index % len(schema["enum"])]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return _instance(schema[key][0], depth + 1, index)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _instance(props.get(k, {}), depth + 1, index) for k in schema.get("required", list(props))}
    if kind == "array":
        items = schema.get("items", {})
        n = max(schema.get("minItems", 1), 1)
        return [_instance(items, depth + 1, i) for i in range(n)]
    if kind == "string":
        low, high = schema.get("minLength", 1), schema.get("maxLength", 200)
        text = FILLER * (1 + low // len(FILLER))
        return text[: max(low, min(high, len(FILLER)))].strip() or "x" * low
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return True
    return None


def default_script(request: GenerationRequest) -> str:
    if request.prompt is not None:
        return f"Bạn đã viết: {request.prompt}"
    if request.json_schema is not None:
        return json.dumps(_instance(request.json_schema), ensure_ascii=False)
    if request.json_object:
        return '{"ok": true}'
    last = (request.messages[-1].get("content") or "") if request.messages else ""
    return f"Bạn đã nói: {last}"


def scripted_tool_calls(request: GenerationRequest) -> list[dict[str, Any]] | None:
    """The call the fake makes: the named tool, else the first one; none after a tool result (it answers)."""
    if not request.tools or request.tool_choice == "none" or request.prompt is not None:
        return None
    if (
        request.messages
        and request.messages[-1].get("role") == "tool"
        and request.tool_choice in (None, "auto")
    ):
        return None
    name = named_choice(request.tool_choice)
    tool = next((t for t in request.tools if t["function"]["name"] == name), request.tools[0])
    args = _instance(tool["function"].get("parameters") or {"type": "object"})
    return [
        {
            "id": new_call_id(),
            "type": "function",
            "function": {"name": tool["function"]["name"], "arguments": json.dumps(args, ensure_ascii=False)},
        }
    ]


class FakeEngine:
    name = "fake"
    supports_json_schema = True
    supports_lora = True
    supports_tools = True
    supports_logprobs = True
    supports_penalties = True
    supports_completions = True
    LOGPROB = -0.25

    def __init__(
        self,
        script: Script = default_script,
        *,
        ttft_s: float = 0.0,
        itl_s: float = 0.0,
        adapters: list[str] | None = None,
        start_delay_s: float = 0.0,
        slots: int | None = None,
    ) -> None:
        self.slots = slots  # None: the server's --n-parallel
        self.script = script
        self.ttft_s = ttft_s
        self.itl_s = itl_s
        self._adapters = adapters or []
        self.start_delay_s = start_delay_s
        self._ready = False
        self.calls: list[GenerationRequest] = []

    async def start(self) -> None:
        if self.start_delay_s:
            await asyncio.sleep(self.start_delay_s)
        self._ready = True

    async def close(self) -> None:
        self._ready = False

    def ready(self) -> bool:
        return self._ready

    def adapters(self) -> list[str]:
        return list(self._adapters)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        self.calls.append(request)
        prompt_tokens = (
            len(request.prompt.split())
            if request.prompt is not None
            else sum(len((m.get("content") or "").split()) for m in request.messages)
        )
        calls = scripted_tool_calls(request)
        if calls is not None:
            if self.ttft_s:
                await asyncio.sleep(self.ttft_s)
            finish, used = "tool_calls", len(calls) * 8
            if wants_constraint(request.tool_choice):
                # As llama.cpp writes a constrained call: compact JSON, one "token" per 8 characters, cut at
                # max_tokens, read back by the engines' shared ConstrainedToolStream.
                fn = calls[0]["function"]
                wrapper = json.dumps(
                    {"name": fn["name"], "arguments": json.loads(fn["arguments"])},
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                pieces = [wrapper[i : i + 8] for i in range(0, len(wrapper), 8)]
                held = ConstrainedToolStream(
                    request.tools or [], request.tool_choice, request.parallel_tool_calls
                )
                for piece in pieces[: request.max_tokens]:
                    held.feed(piece)
                used = min(len(pieces), request.max_tokens)
                calls, finish = held.finish("length" if len(pieces) > request.max_tokens else "stop")
            if calls:
                yield Delta(tool_calls=call_deltas(calls))
            yield Delta(finish_reason=finish, prompt_tokens=prompt_tokens, completion_tokens=used)
            return
        text = self.script(request)
        # "Tokens" are whitespace-delimited pieces, so counts are predictable in tests.
        pieces = [p for p in text.replace(" ", " \0").split("\0") if p] or [""]
        pieces = pieces[: request.max_tokens]
        finish = "length" if len(pieces) < len([p for p in text.split(" ") if p]) else "stop"
        if self.ttft_s:
            await asyncio.sleep(self.ttft_s)
        for i, piece in enumerate(pieces):
            if i and self.itl_s:
                await asyncio.sleep(self.itl_s)
            last = i == len(pieces) - 1
            logprobs = None
            if request.logprobs:
                top = [{"token": piece, "logprob": self.LOGPROB, "bytes": list(piece.encode())}]
                top += [
                    {"token": f"<alt{k}>", "logprob": self.LOGPROB - 1 - k, "bytes": None}
                    for k in range(max(0, (request.top_logprobs or 0) - 1))
                ]
                logprobs = [
                    {
                        "token": piece,
                        "logprob": self.LOGPROB,
                        "bytes": list(piece.encode()),
                        "top_logprobs": top[: request.top_logprobs or 0],
                    }
                ]
            yield Delta(
                text=piece,
                finish_reason=finish if last else None,
                prompt_tokens=prompt_tokens if last else None,
                completion_tokens=len(pieces) if last else None,
                logprobs=logprobs,
            )
