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
from typing import Any

from finadvisor.errors import InvalidRequest

MAX_SCHEMA_BYTES = 16_384  # serialised JSON
MAX_DEPTH = 12  # nested objects/arrays/combinators
MAX_NODES = 1_000  # sub-schemas in total
MAX_PROPERTIES = 128  # per object
MAX_ENUM = 256  # values per enum
MAX_REPEAT = 512  # minLength / maxLength / minItems / maxItems / minProperties / maxProperties
MAX_PATTERN = 256  # characters in a regex pattern

REPEAT_KEYS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains",
               "maxContains")
_CHILD_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_CHILD_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_CHILD_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
              "unevaluatedItems", "unevaluatedProperties", "additionalItems")


def _refuse(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {message}", param=param, code="schema_too_complex")


def check_schema(schema: Any, param: str = "response_format") -> None:
    """Raise ``InvalidRequest`` (400, naming the limit) when ``schema`` exceeds a bound above."""
    try:
        size = len(json.dumps(schema, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        raise _refuse(param, "the schema is not serialisable JSON") from exc
    if size > MAX_SCHEMA_BYTES:
        raise _refuse(param, f"the schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES} bytes")
    nodes = 0
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        nodes += 1
        if nodes > MAX_NODES:
            raise _refuse(param, f"the schema has more than {MAX_NODES} sub-schemas")
        if depth > MAX_DEPTH:
            raise _refuse(param, f"the schema nests deeper than {MAX_DEPTH} levels")
        for key in REPEAT_KEYS:
            value = node.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > MAX_REPEAT:
                raise _refuse(param, f"{key} = {value} exceeds the limit of {MAX_REPEAT}")
        if isinstance(node.get("enum"), list) and len(node["enum"]) > MAX_ENUM:
            raise _refuse(param, f"an enum has {len(node['enum'])} values; the limit is {MAX_ENUM}")
        pattern = node.get("pattern")
        if isinstance(pattern, str) and len(pattern) > MAX_PATTERN:
            raise _refuse(param, f"a pattern has {len(pattern)} characters; the limit is {MAX_PATTERN}")
        for key in _CHILD_MAPS:
            children = node.get(key)
            if isinstance(children, dict):
                if key == "properties" and len(children) > MAX_PROPERTIES:
                    raise _refuse(param, f"an object has {len(children)} properties; the limit is "
                                         f"{MAX_PROPERTIES}")
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
