"""Bounds on caller-supplied JSON schemas, checked before any grammar is compiled.

Why: a JSON schema becomes a grammar (llama.cpp's LLGuidance / json-schema-to-grammar, vLLM's xgrammar) that is
compiled and then walked at every sampled token in a pool thread that the time budget cannot stop. Large
repetition bounds are the worst case: ``{"type": "string", "minLength": 5000}`` or ``"maxItems": 10000`` unroll
into huge grammars (docs/SERVING.md records one request going from 61 s to 541 s with minLength/maxLength), and
deep nesting or thousands of properties blow up compile time. ``check_schema`` refuses such schemas with a 400 that
names the limit; every caller-supplied schema (``response_format`` and each tool's ``parameters``) goes through it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from finadvisor.errors import InvalidRequest

MAX_SCHEMA_BYTES = 16_384  # serialised JSON
MAX_DEPTH = 12  # nested objects/arrays/combinators
MAX_NODES = 1_000  # sub-schemas in total
MAX_PROPERTIES = 128  # per object
MAX_ENUM = 256  # values per enum
MAX_REPEAT = 512  # minLength / maxLength / minItems / maxItems / minProperties / maxProperties
MAX_PATTERN = 256  # characters in a regex pattern
MAX_TOOLSET_BYTES = (
    4 * MAX_SCHEMA_BYTES
)  # the combined call schema of tool_choice "required" (up to 128 tools)
_TOOLSET_DEPTH = 2  # the combined schema wraps each tool's parameters in anyOf -> call object
_QUANTIFIER = re.compile(r"\{(\d*)(,?)(\d*)\}")

REPEAT_KEYS = (
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
)
_CHILD_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_CHILD_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_CHILD_ONE = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
)


def _refuse(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {message}", param=param, code="schema_too_complex")


def pattern_repeat(pattern: str) -> int:
    """The largest repetition a regex asks for, with bounded quantifiers multiplied through nested groups:
    ``(a{500}){500}`` is 250,000, though each bound alone is under the cap (a grammar unrolls both). ``*`` and
    ``+`` loop in a grammar instead of unrolling, so they count 1; ``{n,}`` counts n."""
    stack = [1]  # the worst repetition inside each open group
    last = 1  # that of the atom just read, which a quantifier would repeat
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i, last = i + 2, 1
            continue
        if char == "[":  # a class is one atom; skip to its closing bracket (a leading ] or ^] is literal)
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            j += pattern[j : j + 1] == "]"
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i, last = j + 1, 1
            continue
        if char == "(":
            stack.append(1)
            i += 1
            continue
        if char == ")" and len(stack) > 1:
            last = stack.pop()
            stack[-1] = max(stack[-1], last)
            i += 1
            continue
        match = _QUANTIFIER.match(pattern, i) if char == "{" else None
        if match and (match.group(1) or match.group(3)):
            low = int(match.group(1) or 0)
            high = int(match.group(3)) if match.group(3) else low
            last *= max(low, high)
            stack[-1] = max(stack[-1], last)
            i = match.end()
            continue
        i, last = i + 1, 1
    return max(stack)


def check_tool_constraint(tools: list[dict[str, Any]], tool_choice: str | dict[str, Any] | None) -> None:
    """Under ``tool_choice: "required"`` every tool becomes one branch of a single call schema: each tool passing
    its own caps is not enough (128 tools at the cap make one ``anyOf`` far past the node limit), so the
    combined schema is checked too, with room for its two wrapping levels and a larger byte budget."""
    from finadvisor.engines.tools import constraint_schema, wants_constraint

    if tools and wants_constraint(tool_choice):
        check_schema(
            constraint_schema(tools, tool_choice, False),
            "tools",
            max_bytes=MAX_TOOLSET_BYTES,
            max_depth=MAX_DEPTH + _TOOLSET_DEPTH,
        )


def check_schema(
    schema: Any,
    param: str = "response_format",
    *,
    max_bytes: int = MAX_SCHEMA_BYTES,
    max_depth: int = MAX_DEPTH,
) -> None:
    """Raise ``InvalidRequest`` (400, naming the limit) when ``schema`` exceeds a bound above."""
    try:
        size = len(json.dumps(schema, ensure_ascii=False).encode())
    except (TypeError, ValueError, RecursionError) as exc:
        raise _refuse(param, "the schema is not serialisable JSON") from exc
    if size > max_bytes:
        raise _refuse(param, f"the schema is {size} bytes; the limit is {max_bytes} bytes")
    nodes = 0
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        nodes += 1
        if nodes > MAX_NODES:
            raise _refuse(param, f"the schema has more than {MAX_NODES} sub-schemas")
        if depth > max_depth:
            raise _refuse(param, f"the schema nests deeper than {max_depth} levels")
        for key in REPEAT_KEYS:
            value = node.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > MAX_REPEAT:
                raise _refuse(param, f"{key} = {value} exceeds the limit of {MAX_REPEAT}")
        if isinstance(node.get("enum"), list) and len(node["enum"]) > MAX_ENUM:
            raise _refuse(param, f"an enum has {len(node['enum'])} values; the limit is {MAX_ENUM}")
        patterns = [node.get("pattern")]
        if isinstance(node.get("patternProperties"), dict):
            patterns.extend(node["patternProperties"])
        for pattern in patterns:
            if not isinstance(pattern, str):
                continue
            if len(pattern) > MAX_PATTERN:
                raise _refuse(param, f"a pattern has {len(pattern)} characters; the limit is {MAX_PATTERN}")
            if (repeat := pattern_repeat(pattern)) > MAX_REPEAT:
                raise _refuse(
                    param,
                    f"a pattern repeats {repeat} times (quantifiers multiplied through its "
                    f"groups); the limit is {MAX_REPEAT}",
                )
        for key in _CHILD_MAPS:
            children = node.get(key)
            if isinstance(children, dict):
                if key == "properties" and len(children) > MAX_PROPERTIES:
                    raise _refuse(
                        param, f"an object has {len(children)} properties; the limit is {MAX_PROPERTIES}"
                    )
                stack.extend((child, depth + 1) for child in children.values())
        for key in _CHILD_LISTS:
            children = node.get(key)
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in children)
        for key in _CHILD_ONE:
            child = node.get(key)
            if isinstance(child, dict):
                stack.append((child, depth + 1))
            elif isinstance(child, list):  # draft-4 tuple items
                stack.extend((c, depth + 1) for c in child)
