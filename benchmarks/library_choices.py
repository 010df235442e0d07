"""Is the well-kept library at least as good here? Issue 26 asked for the ``openai`` SDK in the ``openai`` engine
and ``filelock`` for the catalog folder lock; this measures both against what the project has.

1. Upstream streaming: client-side cost of consuming one streamed chat completion of ``--chunks`` chunks, the
   ``openai`` engine's httpx SSE loop (``OpenAIUpstreamEngine.stream``) vs the official SDK
   (``AsyncOpenAI(...).chat.completions.create(stream=True)``, on its own HTTP stack), both on in-memory mock
   transports, so only the client's parsing and bookkeeping is timed.
2. The catalog folder lock: one hold (alternating shared / exclusive) with ``catalog.store.locked`` (flock) vs
   ``filelock.ReadWriteLock`` (shared + exclusive, SQLite) and ``filelock.FileLock`` (exclusive only).

    .venv/bin/python benchmarks/library_choices.py --chunks 400 --runs 15 --holds 2000

Prints a table, then one JSON record (the last line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx

from finadvisor.catalog import store
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.openai_upstream import OpenAIUpstreamEngine


def _sse_body(chunks: int) -> str:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "xin "}, "finish_reason": None}],
    }
    last = {
        **chunk,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": chunks + 5},
    }
    return (
        "".join(f"data: {json.dumps(chunk)}\n\n" for _ in range(chunks))
        + f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n"
    )


MODELS = json.dumps(
    {"object": "list", "data": [{"id": "m", "object": "model", "created": 1, "owned_by": "x"}]}
)


async def _ours(body: str, chunks: int, runs: int) -> float:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, text=MODELS, headers={"content-type": "application/json"})
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    engine = OpenAIUpstreamEngine("http://upstream/v1", transport=httpx.MockTransport(handler))
    await engine.start()
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=chunks)
    start = time.perf_counter()
    for _ in range(runs):
        text = "".join([d.text async for d in engine.stream(request)])
    elapsed = (time.perf_counter() - start) / runs
    assert len(text) == 4 * chunks
    await engine.close()
    return elapsed


async def _sdk(body: str, chunks: int, runs: int) -> float:
    import httpx2 as sdk_http  # the SDK's own HTTP stack (openai 3.x depends on httpx2, not httpx)
    import openai  # the test extra's SDK

    def handler(request):  # type: ignore[no-untyped-def]
        return sdk_http.Response(200, text=body, headers={"content-type": "text/event-stream"})

    client = openai.AsyncOpenAI(
        base_url="http://upstream/v1",
        api_key="x",
        http_client=sdk_http.AsyncClient(transport=sdk_http.MockTransport(handler)),
    )
    start = time.perf_counter()
    for _ in range(runs):
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=chunks, stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    elapsed = (time.perf_counter() - start) / runs
    assert len(text) == 4 * chunks
    await client.close()
    return elapsed


def _holds(lock, holds: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for i in range(holds):
        with lock(i):
            pass
    return (time.perf_counter() - start) / holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=400)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--holds", type=int, default=2000)
    args = parser.parse_args()
    import filelock

    body = _sse_body(args.chunks)
    ours = min(asyncio.run(_ours(body, args.chunks, args.runs)) for _ in range(2))
    sdk = min(asyncio.run(_sdk(body, args.chunks, args.runs)) for _ in range(2))
    folder = Path(tempfile.mkdtemp())
    (folder / "meta.json").write_text("{}")
    rw = filelock.ReadWriteLock(str(folder / "rw.db"), is_singleton=False)
    exclusive = filelock.FileLock(str(folder / "x.lock"))
    flock = _holds(lambda i: store.locked(folder, exclusive=i % 2 == 0), args.holds)
    rw_lock = _holds(lambda i: rw.write_lock() if i % 2 == 0 else rw.read_lock(), args.holds)
    ex_lock = _holds(lambda i: exclusive, args.holds)
    record = {
        "chunks": args.chunks,
        "runs": args.runs,
        "holds": args.holds,
        "filelock": filelock.__version__,
        "stream_us_per_chunk": {
            "httpx_loop": round(ours / args.chunks * 1e6, 1),
            "openai_sdk": round(sdk / args.chunks * 1e6, 1),
        },
        "lock_us_per_hold": {
            "flock": round(flock * 1e6, 1),
            "filelock_readwrite": round(rw_lock * 1e6, 1),
            "filelock_exclusive": round(ex_lock * 1e6, 1),
        },
    }
    print(
        f"{'streamed chunk, client cost':32} httpx loop {record['stream_us_per_chunk']['httpx_loop']:>7} µs   "
        f"openai SDK {record['stream_us_per_chunk']['openai_sdk']:>7} µs"
    )
    print(
        f"{'catalog folder lock, one hold':32} flock {record['lock_us_per_hold']['flock']:>7} µs   "
        f"filelock RW {record['lock_us_per_hold']['filelock_readwrite']:>7} µs   "
        f"filelock exclusive {record['lock_us_per_hold']['filelock_exclusive']:>7} µs"
    )
    print(json.dumps(record))


if __name__ == "__main__":
    main()
