"""Issue 25, /v1 side: the combined tool schema of ``tool_choice: "required"`` is checked against the schema
caps, quantifiers inside a ``pattern`` are capped (multiplied through nested groups), and a multi-prompt
``/v1/completions`` call takes one queue place at a time, not one per prompt."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.engines.schema_limits import MAX_REPEAT, pattern_repeat
from finadvisor.settings import Settings
from tests.helpers import started_client

CHAT = "/v1/chat/completions"


def _tool(i: int, parameters: dict) -> dict:
    return {"type": "function", "function": {"name": f"tool_{i}", "parameters": parameters}}


def _ask(**extra: object) -> dict:
    return {"messages": [{"role": "user", "content": "Gọi công cụ"}], "max_tokens": 16, **extra}


def _capped_params() -> dict:
    """One tool's parameters, each within the caps alone: 7 properties of small sub-schemas (8 nodes)."""
    return {"type": "object", "properties": {f"p{j}": {"type": "string"} for j in range(7)}}


async def test_many_capped_tools_under_required_are_refused(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    tools = [_tool(i, _capped_params()) for i in range(128)]
    r = await client.post(CHAT, json=_ask(tools=tools, tool_choice="required"))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "schema_too_complex" and error["param"] == "tools"
    assert not fake_engine.calls  # refused before any grammar is built
    # the same tools without a constraint (auto) are fine: no combined grammar is compiled
    assert (await client.post(CHAT, json=_ask(tools=tools, tool_choice="auto"))).status_code == 200


async def test_a_few_tools_under_required_pass(client: httpx.AsyncClient) -> None:
    tools = [_tool(i, _capped_params()) for i in range(5)]
    assert (await client.post(CHAT, json=_ask(tools=tools, tool_choice="required"))).status_code == 200


@pytest.mark.parametrize(
    "pattern", ["(a{500}){500}", "((a{20}){20}){20}", "(?:x{30}|y{2}){30}", "[ab]{513}", "a{0,100000}"]
)
async def test_nested_pattern_quantifiers_are_capped(client: httpx.AsyncClient, pattern: str) -> None:
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": pattern}}}
    r = await client.post(
        CHAT,
        json=_ask(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}),
    )
    assert r.status_code == 400, r.text
    assert "pattern repeats" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "pattern, repeat",
    [
        (r"^\d{3}-\d{4}$", 4),
        ("[{]{6}", 6),
        (r"\{600}", 1),
        ("(ab)+", 1),
        ("x{2,}", 2),
        ("(a{2}){3}b{5}", 6),
        ("[a-z]{1,512}", MAX_REPEAT),
    ],
)
def test_ordinary_patterns_pass(pattern: str, repeat: int) -> None:
    assert pattern_repeat(pattern) == repeat


async def test_a_multi_prompt_completion_takes_one_queue_place_at_a_time(tmp_path: Path) -> None:
    settings = Settings(
        engine="fake",
        cache_dir=tmp_path / "c",
        embedder="hash",
        index_dir=tmp_path / "i",
        n_parallel=1,
        max_waiting=1,
    )
    engine = FakeEngine(ttft_s=0.02)
    app = create_app(settings, engine=engine)
    async for c in started_client(app):
        assert app.state.llm.capacity + app.state.llm.max_waiting == 2
        r = await c.post("/v1/completions", json={"prompt": [f"câu {i}" for i in range(6)], "max_tokens": 4})
        assert r.status_code == 200, r.text  # 6 prompts at once would overflow a gate of 2
        assert [ch["index"] for ch in r.json()["choices"]] == list(range(6))
        assert len(engine.calls) == 6
