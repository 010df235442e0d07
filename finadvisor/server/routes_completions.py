"""``POST /v1/completions``: legacy text completions (raw prompt, no chat template), for evaluation harnesses.

Each prompt of a list is one generation through the same ``LLMService`` gate as chat (so the queue bound, time
budget and metrics cover it); choices keep the prompts' order. Logprobs come back in the legacy shape
(``tokens``, ``token_logprobs``, ``top_logprobs``, ``text_offset``). Included into ``routes_openai.router``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from finadvisor.engines.base import Delta, Generation, GenerationRequest
from finadvisor.engines.service import LLMService
from finadvisor.errors import FinadvisorError
from finadvisor.protocol import (
    Completion,
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    Usage,
    new_id,
)

router = APIRouter()


def legacy_logprobs(entries: list[dict[str, Any]] | None, offset: int) -> CompletionLogprobs:
    out = CompletionLogprobs()
    for entry in entries or []:
        token = str(entry.get("token", ""))
        out.tokens.append(token)
        out.token_logprobs.append(float(entry.get("logprob", 0.0)))
        out.top_logprobs.append(
            {str(t.get("token")): float(t.get("logprob", 0.0)) for t in entry.get("top_logprobs") or []}
        )
        out.text_offset.append(offset)
        offset += len(token)
    return out


def _requests(body: CompletionRequest, llm: LLMService, limit: int) -> list[GenerationRequest]:
    from finadvisor.server.generation import check_budget

    check_budget(body.max_tokens, limit)
    adapter = llm.resolve_adapter(body.model)
    return [
        GenerationRequest(
            messages=[],
            prompt=prompt,
            max_tokens=body.max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
            stop=body.stop if isinstance(body.stop, list) else None,
            seed=body.seed,
            adapter=adapter,
            logprobs=body.logprobs is not None,
            top_logprobs=body.logprobs or None,
            frequency_penalty=body.frequency_penalty,
            presence_penalty=body.presence_penalty,
            logit_bias=body.logit_bias or None,
            strict=True,
            extra={"ignore_eos": True} if body.ignore_eos else {},
        )
        for prompt in body.prompts()
    ]


@router.post(
    "/completions",
    response_model=Completion,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {}}},
            "description": "A text_completion, or with stream=true an SSE stream of text_completion chunks ending in [DONE]",
        }
    },
)
async def completions(body: CompletionRequest, request: Request):  # type: ignore[no-untyped-def]
    from finadvisor.server.generation import finish_reason

    llm: LLMService = request.app.state.llm
    requests = _requests(body, llm, request.app.state.settings.max_tokens_limit)
    model = body.model or llm.model_name
    want_lp = body.logprobs is not None
    if not body.stream:
        # One prompt after another, as the stream does: a 16-prompt call holds one queue place, not 16 (issue 25)
        results: list[Generation] = [await llm.generate(r) for r in requests]
        choices = [
            CompletionChoice(
                text=g.text,
                index=i,
                finish_reason=finish_reason(g.finish_reason),  # type: ignore[arg-type]
                logprobs=legacy_logprobs(g.logprobs, len(r.prompt or "")) if want_lp else None,
            )
            for i, (g, r) in enumerate(zip(results, requests, strict=True))
        ]
        p = sum(g.prompt_tokens for g in results)
        c = sum(g.completion_tokens for g in results)
        return Completion(
            model=model,
            choices=choices,
            usage=Usage(prompt_tokens=p, completion_tokens=c, total_tokens=p + c),
        )

    first_stream = aiter(llm.stream(requests[0]))
    first = await anext(first_stream)  # refusals and overflows become a 4xx before the 200
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(
        _sse(llm, requests, first, first_stream, model, include_usage, want_lp),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(
    llm: LLMService,
    requests: list[GenerationRequest],
    first: Delta,
    first_stream: AsyncIterator[Delta],
    model: str,
    include_usage: bool,
    want_lp: bool,
) -> AsyncIterator[str]:
    from finadvisor.server.generation import finish_reason, sse_error

    chunk_id, created = new_id("cmpl"), int(time.time())
    prompt_tokens = completion_tokens = 0

    def event(choice: CompletionChoice | None, usage: Usage | None = None) -> str:
        chunk = Completion(
            id=chunk_id, created=created, model=model, choices=[choice] if choice else [], usage=usage
        )
        payload = chunk.model_dump(exclude_none=True)
        for item in payload["choices"]:
            item.setdefault("finish_reason", None)
            item.setdefault("logprobs", None)
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    stream: AsyncIterator[Delta] | None = first_stream
    try:
        for index, request in enumerate(requests):
            if stream is None:
                stream = aiter(llm.stream(request))
            offset = len(request.prompt or "")
            current: Delta | None = first if index == 0 else await anext(stream, None)
            while current is not None:
                if current.text or current.finish_reason is not None:
                    lp = legacy_logprobs(current.logprobs, offset) if want_lp and current.logprobs else None
                    offset += len(current.text)
                    finish = finish_reason(current.finish_reason) if current.finish_reason else None
                    yield event(
                        CompletionChoice(text=current.text, index=index, logprobs=lp, finish_reason=finish)
                    )  # type: ignore[arg-type]
                if current.finish_reason is not None:
                    prompt_tokens += current.prompt_tokens or 0
                    completion_tokens += current.completion_tokens or 0
                current = await anext(stream, None)
            await stream.aclose()  # type: ignore[attr-defined]
            stream = None
        if include_usage:
            yield event(
                None,
                Usage(
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    total_tokens=prompt_tokens + completion_tokens,
                ),
            )
    except FinadvisorError as exc:
        yield sse_error(exc)
    finally:
        if stream is not None:
            await stream.aclose()  # type: ignore[attr-defined]
    yield "data: [DONE]\n\n"
