"""Function calling for engines whose model writes tool calls as text (llama.cpp on small models).

Why this exists: llama.cpp renders the tools through the model's chat template and parses ``<tool_call>`` tags,
but the packaged Qwen2.5-Coder-0.5B answers with a bare JSON object (often inside a ```json fence), so llama.cpp's
parser finds no call (measured: 0 of 10). Two mechanisms, as vLLM does:

* ``tool_choice`` "required" or a named function: the output is *constrained* by ``constraint_schema`` (a JSON
  schema of ``{"name", "arguments"}``), so it is a well-formed call by construction.
* ``tool_choice`` "auto": the model decides; ``parse_tool_calls`` accepts ``<tool_call>`` tags, fenced or bare
  JSON whose ``name`` is one of the request's tools and whose ``arguments`` is an object. Anything else is text.
  ``AutoToolStream`` holds streamed text back only while it could still be a tool call.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)
_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_PREFIXES = ("```", "<tool_call>", "{", "[")


def tool_names(tools: list[dict[str, Any]]) -> list[str]:
    return [str((t.get("function") or {}).get("name")) for t in tools]


def named_choice(tool_choice: str | dict[str, Any] | None) -> str | None:
    """The function name of ``{"type": "function", "function": {"name": ...}}``, else None."""
    if isinstance(tool_choice, dict):
        return str((tool_choice.get("function") or {}).get("name"))
    return None


def wants_constraint(tool_choice: str | dict[str, Any] | None) -> bool:
    return tool_choice == "required" or isinstance(tool_choice, dict)


def _call_schema(tool: dict[str, Any]) -> dict[str, Any]:
    fn = tool.get("function") or {}
    params = fn.get("parameters") or {"type": "object"}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "arguments"],
        "properties": {"name": {"const": fn.get("name")}, "arguments": params},
    }


def constraint_schema(
    tools: list[dict[str, Any]], tool_choice: str | dict[str, Any] | None, parallel: bool | None
) -> dict[str, Any]:
    """The JSON schema that makes the output a tool call: one named function, or any of the tools ("required");
    with parallel calls allowed, also a short array of calls."""
    name = named_choice(tool_choice)
    chosen = [t for t in tools if (t.get("function") or {}).get("name") == name] if name else tools
    one = _call_schema(chosen[0]) if len(chosen) == 1 else {"anyOf": [_call_schema(t) for t in chosen]}
    if name or parallel is False:
        return one
    return {"anyOf": [one, {"type": "array", "minItems": 1, "maxItems": 8, "items": one}]}


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _as_call(obj: Any, names: set[str]) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict) and "name" not in obj:  # {"type": "function", "function": {...}}
        obj = obj["function"]
    name = obj.get("name")
    args = obj.get("arguments", obj.get("parameters"))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    if name not in names or not isinstance(args, dict):
        return None
    return {
        "id": new_call_id(),
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)},
    }


def _json_values(text: str) -> list[Any] | None:
    """Every JSON value in ``text`` (one after another, whitespace between), or None if anything else is there."""
    decoder, values, pos = json.JSONDecoder(), [], 0
    text = text.strip()
    while pos < len(text):
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
        values.append(value)
        pos = end
        while pos < len(text) and text[pos] in " \t\r\n,;":
            pos += 1
    return values


def parse_tool_calls(
    text: str, tools: list[dict[str, Any]], *, parallel: bool | None = None
) -> list[dict[str, Any]] | None:
    """Tool calls written as text, or None when ``text`` is not entirely tool calls of the given tools."""
    names = set(tool_names(tools))
    body = text.strip()
    if not body:
        return None
    tagged = _TAG.findall(body)
    chunks = tagged if tagged and body.startswith("<tool_call>") else [body]
    calls: list[dict[str, Any]] = []
    for chunk in chunks:
        fence = _FENCE.match(chunk.strip())
        values = _json_values(fence.group(1) if fence else chunk)
        if not values:
            return None
        for value in values:
            for item in value if isinstance(value, list) else [value]:
                call = _as_call(item, names)
                if call is None:
                    return None
                calls.append(call)
    seen: set[tuple[str, str]] = set()
    unique = []
    for call in calls:  # small models repeat one call until the token budget ends
        key = (call["function"]["name"], call["function"]["arguments"])
        if key not in seen:
            seen.add(key)
            unique.append(call)
    if not unique:
        return None
    return unique[:1] if parallel is False else unique


def call_deltas(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Whole calls as OpenAI streaming pieces: a header (id, name, empty arguments), then the arguments."""
    pieces: list[dict[str, Any]] = []
    for i, call in enumerate(calls):
        fn = call["function"]
        pieces.append(
            {
                "index": i,
                "id": call["id"],
                "type": "function",
                "function": {"name": fn["name"], "arguments": ""},
            }
        )
        pieces.append({"index": i, "function": {"arguments": fn["arguments"]}})
    return pieces


class AutoToolStream:
    """Streams text at once unless it may be a tool call; then holds it until the end decides.

    ``feed`` returns the text that can be sent now; ``finish`` returns either the parsed calls or the held text.
    """

    def __init__(self, tools: list[dict[str, Any]], parallel: bool | None = None) -> None:
        self.tools = tools
        self.parallel = parallel
        self.held = ""
        self.decided_text = False

    def feed(self, text: str) -> str:
        if self.decided_text:
            return text
        self.held += text
        start = self.held.lstrip()
        if not start:
            return ""
        if any(start.startswith(p) or p.startswith(start) for p in _PREFIXES):
            return ""
        self.decided_text = True
        out, self.held = self.held, ""
        return out

    def finish(self, truncated: bool = False) -> tuple[list[dict[str, Any]] | None, str]:
        """``truncated``: the generation hit ``max_tokens``, so complete calls followed by an unfinished one count
        as those calls (the small model repeats a call until the budget ends)."""
        if self.decided_text or not self.held:
            return None, self.held
        calls = parse_tool_calls(self.held, self.tools, parallel=self.parallel)
        if not calls and truncated:
            calls, tail = leading_calls(self.held, self.tools)
            if tail.strip() and not tail.lstrip().startswith(_PREFIXES):
                calls = []  # a call and then prose: text, as when not truncated
            calls = (calls[:1] if self.parallel is False else calls) or None
        return (calls, "") if calls else (None, self.held)


# --------------------------------------------------------------------------------- constrained calls, cut short

# llguidance's own switch (top-level "x-guidance"): no free whitespace, so the call costs no tokens on indentation.
COMPACT = {"whitespace_flexible": False}
_CALL_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)(")?\s*(?:,\s*"arguments"\s*:\s*)?', re.S)


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with llguidance's compact-JSON option (other grammar compilers ignore the key)."""
    return {"x-guidance": COMPACT, **schema}


def leading_calls(text: str, tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The complete calls at the start of ``text`` (bare, in an array or in ```json fences) and the unfinished
    rest: what a generation cut by ``max_tokens`` leaves (``{..call..}{..call..}{"name": "get_w``)."""
    names = set(tool_names(tools))
    body = text.strip()
    if body.startswith("```"):  # fences around each call: their markers are only separators here
        body = re.sub(r"```(?:json)?", " ", body)
    body = body.strip()
    if body.startswith("["):
        body = body[1:]
    decoder, pos = json.JSONDecoder(), 0
    calls: list[dict[str, Any]] = []
    while True:
        while pos < len(body) and body[pos] in " \t\r\n,;]":
            pos += 1
        if pos >= len(body):
            return calls, ""
        try:
            value, end = decoder.raw_decode(body, pos)
        except json.JSONDecodeError:
            return calls, body[pos:]
        for item in value if isinstance(value, list) else [value]:
            call = _as_call(item, names)
            if call is None:
                return calls, body[pos:]
            if all(c["function"] != call["function"] for c in calls):  # the small model repeats itself
                calls.append(call)
        pos = end


def partial_call(
    tail: str, tools: list[dict[str, Any]], name_hint: str | None = None
) -> dict[str, Any] | None:
    """The call ``tail`` was writing when the tokens ran out: its function (written whole, the named choice, or the
    only tool whose name starts with what was written) and the arguments text generated so far, else None."""
    head = _CALL_HEAD.match(tail)
    names = tool_names(tools)
    if head is None:
        name = name_hint
        arguments = ""
    else:
        written = head.group(1)
        candidates = [written] if head.group(2) else [n for n in names if n.startswith(written)]
        name = name_hint if name_hint in candidates else (candidates[0] if len(candidates) == 1 else None)
        arguments = tail[head.end() :] if "arguments" in tail[: head.end()] else ""
    if name is None or name not in names:
        return None
    return {
        "id": new_call_id(),
        "type": "function",
        "function": {"name": name, "arguments": arguments.rstrip()},
    }


class ConstrainedToolStream:
    """Holds a schema-constrained call (``tool_choice`` required or named) until the end, then gives the calls and the
    finish reason. Cut by ``max_tokens``: the complete calls (``tool_calls``), or with none complete the call being
    written with its arguments so far (``length``), never the wrapper as text."""

    def __init__(
        self,
        tools: list[dict[str, Any]],
        tool_choice: str | dict[str, Any] | None,
        parallel: bool | None = None,
    ) -> None:
        self.tools = tools
        self.name = named_choice(tool_choice)
        self.parallel = parallel
        self.held: list[str] = []

    def feed(self, text: str) -> None:
        self.held.append(text)

    def finish(self, finish_reason: str | None) -> tuple[list[dict[str, Any]], str]:
        text = "".join(self.held)
        calls, tail = leading_calls(text, self.tools)
        if calls:
            return (calls[:1] if self.parallel is False else calls), "tool_calls"
        partial = partial_call(tail, self.tools, self.name)
        return ([partial] if partial else []), finish_reason or "length"
