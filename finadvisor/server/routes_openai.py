"""OpenAI-compatible routes: thin. Parse the wire model, call the LLM service, map the result to JSON or SSE."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from finadvisor.engines.base import Delta, GenerationRequest
from finadvisor.engines.service import LLMService
from finadvisor.errors import FinadvisorError, InvalidRequest
from finadvisor.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChoiceMessage,
    ChunkChoice,
    DeltaMessage,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorDetail,
    ModelCard,
    ModelList,
    Usage,
    new_id,
)
from finadvisor.server.auth import require_api_key
from finadvisor.server.errors import documented

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)],
                   responses=documented(400, 401, 404, 413, 500, 502, 503, 504))
_FINISH = {"stop", "length", "content_filter", "tool_calls"}


def _to_generation_request(body: ChatCompletionRequest, llm: LLMService, max_tokens_limit: int,
                           default_max_tokens: int) -> GenerationRequest:
    budget = body.token_budget() or default_max_tokens
    if budget > max_tokens_limit:
        raise InvalidRequest(f"max_tokens must be at most {max_tokens_limit}", param="max_tokens")
    try:
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                    for m in body.messages]
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="messages") from exc
    schema = None
    json_object = False
    if body.response_format is not None and body.response_format.type != "text":
        if body.response_format.type == "json_schema":
            assert body.response_format.json_schema is not None
            schema = body.response_format.json_schema.schema_
            if not schema:
                raise InvalidRequest("response_format.json_schema.schema must be a non-empty JSON schema",
                                     param="response_format")
        else:
            json_object = True
    return GenerationRequest(messages=messages, max_tokens=budget, temperature=body.temperature,
                             top_p=body.top_p, stop=body.stop if isinstance(body.stop, list) else None,
                             seed=body.seed, json_schema=schema, json_object=json_object,
                             adapter=llm.resolve_adapter(body.model),
                             extra={"ignore_eos": True} if body.ignore_eos else {})


def _finish(reason: str | None) -> str:
    return reason if reason in _FINISH else "stop"


@router.post("/chat/completions", response_model=ChatCompletion, responses={200: {
    "content": {"text/event-stream": {"schema": {}}},
    "description": "A chat.completion, or with stream=true an SSE stream of chat.completion.chunk ending in [DONE]"}})
async def chat_completions(body: ChatCompletionRequest, request: Request):  # type: ignore[no-untyped-def]
    state = request.app.state
    llm: LLMService = state.llm
    gen_request = _to_generation_request(body, llm, state.settings.max_tokens_limit, 512)
    model = body.model or llm.model_name
    if not body.stream:
        result = await llm.generate(gen_request)
        return ChatCompletion(model=model, choices=[Choice(message=ChoiceMessage(content=result.text),
                                                           finish_reason=_finish(result.finish_reason))],
                              usage=Usage(prompt_tokens=result.prompt_tokens,
                                          completion_tokens=result.completion_tokens,
                                          total_tokens=result.prompt_tokens + result.completion_tokens))

    deltas = aiter(llm.stream(gen_request))
    # Pull the first delta before answering 200, so refusals and context overflows are proper 4xx/5xx.
    first = await anext(deltas)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(_sse(first, deltas, model, include_usage), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _sse(first: Delta, deltas: AsyncIterator[Delta], model: str,
               include_usage: bool) -> AsyncIterator[str]:
    chunk_id, created = new_id(), int(time.time())

    def event(delta: DeltaMessage, finish: str | None = None, usage: Usage | None = None,
              choices: bool = True) -> str:
        chunk = ChatCompletionChunk(
            id=chunk_id, created=created, model=model, usage=usage,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)] if choices else [])  # type: ignore[arg-type]
        payload = chunk.model_dump(exclude_none=True)
        for choice in payload["choices"]:
            choice.setdefault("finish_reason", None)  # OpenAI sends an explicit null until the last chunk
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield event(DeltaMessage(role="assistant", content=""))
    try:
        current: Delta | None = first
        while current is not None:
            if current.text:
                yield event(DeltaMessage(content=current.text))
            if current.finish_reason is not None:
                yield event(DeltaMessage(), _finish(current.finish_reason))
                if include_usage:
                    p, c = current.prompt_tokens or 0, current.completion_tokens or 0
                    yield event(DeltaMessage(), usage=Usage(prompt_tokens=p, completion_tokens=c,
                                                            total_tokens=p + c), choices=False)
            current = await anext(deltas, None)
    except FinadvisorError as exc:
        err = ErrorDetail(message=exc.message, type=exc.error_type, param=exc.param, code=exc.code)
        yield f"data: {json.dumps({'error': err.model_dump()})}\n\n"
    except asyncio.CancelledError:
        raise
    finally:
        await deltas.aclose()  # type: ignore[attr-defined]
    yield "data: [DONE]\n\n"


@router.get("/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    llm: LLMService = request.app.state.llm
    base = llm.model_name
    cards = [ModelCard(id=base)] + [ModelCard(id=name, parent=base) for name in llm.engine.adapters()]
    return ModelList(data=cards)


@router.post("/embeddings", response_model=EmbeddingResponse)
async def embeddings(body: EmbeddingRequest, request: Request) -> JSONResponse:
    try:
        texts = body.texts()
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="input") from exc
    embedder = await request.app.state.get_embedder()
    encode = embedder.embed_queries if body.input_type == "query" else embedder.embed_passages
    vectors = await asyncio.to_thread(encode, texts)
    tokens = sum(len(t.split()) for t in texts)
    response = EmbeddingResponse(
        data=[Embedding(embedding=[float(x) for x in row], index=i) for i, row in enumerate(vectors)],
        model=body.model or embedder.name, usage=Usage(prompt_tokens=tokens, total_tokens=tokens))
    return JSONResponse(response.model_dump())
