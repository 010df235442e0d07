"""LLM-written Q&A: schema request, validation, grounding, dedup, resume; FakeEngine and a mock upstream."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from finadvisor.dataset.generate import GenerateConfig, chunk_text, generate_dataset, state_path
from finadvisor.dataset.llm import EngineLLM, UpstreamLLM
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.fake import FakeEngine
from finadvisor.errors import ConfigError

GROUNDED = {
    "question": "Phí rút tiền của Ví Mẫu là bao nhiêu?",
    "answer": "Phí rút tiền là 2.000đ mỗi lần từ lần thứ tư trong tháng.",
}
INVENTED = {
    "question": "Ví Mẫu có cho vay không?",
    "answer": "Có, Ví Mẫu cho vay tiêu dùng lãi suất thấp cho sinh viên.",
}
HOTLINE = {
    "question": "Hotline của Ví Mẫu là số nào?",
    "answer": "Hotline hỗ trợ của Ví Mẫu là 1900 0000, hoạt động 24/7.",
}


def script_for(replies: dict[str, object]):
    """Reply by looking for a marker in the chunk; record nothing else."""

    def script(request: GenerationRequest) -> str:
        assert request.json_schema is not None and request.json_schema["required"] == ["pairs"]
        chunk = request.messages[-1]["content"]
        for marker, reply in replies.items():
            if marker in chunk:
                return reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
        return json.dumps({"pairs": []})

    return script


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_chunking_packs_paragraphs_and_splits_long_ones():
    text = "Đoạn một ngắn.\n\nĐoạn hai cũng ngắn.\n\n" + "Câu dài. " * 100
    chunks = list(chunk_text(text, chunk_chars=200))
    assert chunks[0].startswith("Đoạn một ngắn.\nĐoạn hai cũng ngắn.")
    assert all(len(c) <= 200 for c in chunks)
    assert sum(c.count("Câu dài.") for c in chunks) == 100


async def test_generate_validates_grounds_and_dedups(fixtures, tmp_path):
    engine = FakeEngine(
        script=script_for(
            {
                "Phí rút tiền": {"pairs": [GROUNDED, INVENTED, GROUNDED]},
                "Hotline": {"pairs": [HOTLINE, {"question": "?", "answer": ""}]},
            }
        )
    )
    out = tmp_path / "gen.jsonl"
    config = GenerateConfig(chunk_chars=120, pairs_per_chunk=3)
    report = await generate_dataset([fixtures / "notes.txt"], out, EngineLLM(engine), config)
    assert report.chunks == 2 and report.processed == 2 and report.failed == 0
    assert report.kept == 2
    assert report.dropped == {"not_grounded": 1, "duplicate": 1, "empty": 1}
    rows = read(out)
    assert [r["messages"][1]["content"] for r in rows] == [GROUNDED["question"], HOTLINE["question"]]
    assert rows[0]["type"] == "chatml" and rows[0]["meta"]["source_type"] == "generated"
    assert rows[0]["source"].endswith("notes.txt#chunk0")
    assert not engine.ready()  # closed at the end


async def test_resume_skips_finished_chunks_and_retries_failed_ones(fixtures, tmp_path):
    out = tmp_path / "gen.jsonl"
    config = GenerateConfig(chunk_chars=120, retries=0)
    broken = FakeEngine(script=script_for({"Phí rút tiền": {"pairs": [GROUNDED]}, "Hotline": "not json {"}))
    first = await generate_dataset([fixtures / "notes.txt"], out, EngineLLM(broken), config)
    assert (first.processed, first.failed, first.kept) == (1, 1, 1)
    assert "unusable model reply" in first.errors[0]
    assert len(json.loads(state_path(out).read_text())["done"]) == 1

    fixed = FakeEngine(
        script=script_for({"Phí rút tiền": {"pairs": [GROUNDED]}, "Hotline": {"pairs": [HOTLINE]}})
    )
    second = await generate_dataset([fixtures / "notes.txt"], out, EngineLLM(fixed), config)
    assert (second.resumed, second.processed, second.kept) == (1, 1, 1)
    assert len(fixed.calls) == 1 and "Hotline" in fixed.calls[0].messages[-1]["content"]
    assert len(read(out)) == 2

    third = FakeEngine(script=script_for({}))
    again = await generate_dataset([fixtures / "notes.txt"], out, EngineLLM(third), config)
    assert again.resumed == 2 and third.calls == []


async def test_crash_between_append_and_state_is_not_doubled(fixtures, tmp_path):
    out = tmp_path / "gen.jsonl"
    config = GenerateConfig(chunk_chars=120)
    engine = FakeEngine(
        script=script_for({"Phí rút tiền": {"pairs": [GROUNDED]}, "Hotline": {"pairs": [HOTLINE]}})
    )
    await generate_dataset([fixtures / "notes.txt"], out, EngineLLM(engine), config)
    state_path(out).unlink()  # as if we died before recording any chunk
    with out.open("a", encoding="utf-8") as handle:
        handle.write('{"type": "chatml", "messa')  # and mid-line
    engine2 = FakeEngine(script=engine.script)
    report = await generate_dataset([fixtures / "notes.txt"], out, EngineLLM(engine2), config)
    assert report.kept == 0 and report.dropped == {"duplicate": 2}
    assert len(read(out)) == 2  # torn line cut, nothing doubled


def _sse(content: str) -> httpx.Response:
    events = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": content}}]},
        {
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        },
    ]
    body = "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events) + "data: [DONE]\n\n"
    return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})


async def test_upstream_request_uses_json_schema(fixtures, tmp_path):
    seen: list[dict] = []
    auth: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers.get("authorization"))
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "qwen-test"}]})
        body = json.loads(request.content)
        seen.append(body)
        if len(seen) == 1:
            return httpx.Response(503)  # retried
        content = json.dumps(
            {"pairs": [GROUNDED if "Phí rút tiền" in body["messages"][-1]["content"] else HOTLINE]},
            ensure_ascii=False,
        )
        return _sse(content)

    llm = UpstreamLLM(
        "http://upstream.test", transport=httpx.MockTransport(handler), backoff_s=0.0, api_key="secret"
    )
    report = await generate_dataset(
        [fixtures / "notes.txt"], tmp_path / "gen.jsonl", llm, GenerateConfig(chunk_chars=120)
    )
    assert report.kept == 2 and report.errors == []
    assert seen[1]["model"] == "qwen-test"
    assert seen[1]["response_format"]["type"] == "json_schema"
    assert seen[1]["response_format"]["json_schema"]["schema"]["properties"]["pairs"]["maxItems"] == 3
    assert set(auth) == {"Bearer secret"}


async def test_upstream_gives_up_after_its_retries_and_does_not_retry_a_bad_request(tmp_path):
    from finadvisor.errors import EngineUnavailable, InvalidRequest

    calls: list[str] = []

    def upstream(status: int, message: str):  # type: ignore[no-untyped-def]
        def handle(request: httpx.Request) -> httpx.Response:
            calls.append(request.url.path)
            if request.url.path == "/v1/models":
                return httpx.Response(200, json={"data": [{"id": "m"}]})
            return httpx.Response(status, json={"error": {"message": message}})

        return httpx.MockTransport(handle)

    llm = UpstreamLLM(
        "http://upstream.test/v1/", transport=upstream(503, "overloaded"), retries=2, backoff_s=0.0
    )
    await llm.start()
    with pytest.raises(EngineUnavailable, match=r"failed after 3 attempts .*overloaded.*is the server up"):
        await llm.complete([{"role": "user", "content": "x"}], {"type": "object"}, 16)
    assert calls.count("/v1/chat/completions") == 3
    await llm.close()

    calls.clear()
    llm = UpstreamLLM(
        "http://upstream.test", transport=upstream(400, "schema not supported"), retries=2, backoff_s=0.0
    )
    await llm.start()
    with pytest.raises(InvalidRequest, match="schema not supported"):
        await llm.complete([{"role": "user", "content": "x"}], {"type": "object"}, 16)
    assert calls.count("/v1/chat/completions") == 1
    await llm.close()


async def test_generate_refuses_input_as_output(fixtures, tmp_path):
    src = tmp_path / "notes.txt"
    src.write_text("Một đoạn văn.", encoding="utf-8")
    with pytest.raises(ConfigError, match="refusing to write into input file"):
        await generate_dataset([src], src, EngineLLM(FakeEngine()))
