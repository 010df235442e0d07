"""From an OpenAI request to the engine's ``GenerationRequest``, and the small pieces every OpenAI route shares.

Why a module of its own: ``routes_openai`` mounts the other routers (completions, embeddings, responses), so the
helpers they all use live here, below all of them, and no router imports another.
"""

from __future__ import annotations

import json

from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.schema_limits import check_schema, check_tool_constraint
from finadvisor.engines.service import LLMService
from finadvisor.errors import FinadvisorError, InvalidRequest
from finadvisor.protocol import ChatCompletionRequest, ErrorDetail

_FINISH = {"stop", "length", "content_filter", "tool_calls"}
DEFAULT_MAX_TOKENS = 512


def check_budget(budget: int, limit: int) -> None:
    if budget > limit:
        raise InvalidRequest(f"max_tokens must be at most {limit}", param="max_tokens")


def to_generation_request(
    body: ChatCompletionRequest, llm: LLMService, max_tokens_limit: int, default_max_tokens: int
) -> GenerationRequest:
    budget = body.token_budget() or default_max_tokens
    check_budget(budget, max_tokens_limit)
    try:
        messages = [m.to_engine() for m in body.messages]
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="messages") from exc
    schema = None
    json_object = False
    if body.response_format is not None and body.response_format.type != "text":
        if body.response_format.type == "json_schema":
            assert body.response_format.json_schema is not None
            schema = body.response_format.json_schema.schema_
            if not schema:
                raise InvalidRequest(
                    "response_format.json_schema.schema must be a non-empty JSON schema",
                    param="response_format",
                )
            check_schema(schema, "response_format")
        else:
            json_object = True
    tools = None
    if body.tools:
        tools = [t.model_dump(exclude_none=True) for t in body.tools]
        for i, tool in enumerate(tools):
            if "parameters" in tool["function"]:
                check_schema(tool["function"]["parameters"], f"tools.{i}.function.parameters")
        check_tool_constraint(tools, body.tool_choice_value())  # the combined schema of "required" (issue 25)
    return GenerationRequest(
        messages=messages,
        max_tokens=budget,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=body.stop if isinstance(body.stop, list) else None,
        seed=body.seed,
        json_schema=schema,
        json_object=json_object,
        adapter=llm.resolve_adapter(body.model),
        tools=tools,
        tool_choice=body.tool_choice_value(),
        parallel_tool_calls=body.parallel_tool_calls,
        logprobs=body.logprobs,
        top_logprobs=body.top_logprobs,
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
        logit_bias=body.logit_bias or None,
        strict=True,
        extra={"ignore_eos": True} if body.ignore_eos else {},
    )


def finish_reason(reason: str | None) -> str:
    return reason if reason in _FINISH else "stop"


def sse_error(exc: FinadvisorError) -> str:
    err = ErrorDetail(message=exc.message, type=exc.error_type, param=exc.param, code=exc.code)
    return f"data: {json.dumps({'error': err.model_dump()})}\n\n"
