"""The vLLM engine's supervision, against a stand-in server process (real vLLM: see test_vllm_real)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from finadvisor.engines import generate
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.vllm import VLLMEngine, vllm_command
from finadvisor.errors import ConfigError, EngineUnavailable
from tests.helpers import free_port

REQ = GenerationRequest(messages=[{"role": "user", "content": "xin chào"}], max_tokens=8)


def _engine(tmp_path: Path, *extra: str) -> VLLMEngine:
    port = free_port()
    cmd = [sys.executable, "-m", "tests.engines.fake_vllm", "--port", str(port), *extra]
    return VLLMEngine(
        cmd,
        port=port,
        served_name="qwen2.5-0.5b-instruct",
        adapters=[],
        log_path=tmp_path / "vllm.log",
        startup_timeout_s=60,
    )


def test_command_line_matches_vllm_flags() -> None:
    cmd = vllm_command("/m", 9000, served_name="q", tensor_parallel_size=2, lora=["faq=/a"], max_lora_rank=32)
    joined = " ".join(cmd)
    assert "-m vllm.entrypoints.openai.api_server" in joined
    assert "--tensor-parallel-size 2" in joined
    assert "--enable-lora --max-lora-rank 32 --lora-modules faq=/a" in joined
    assert "--enable-auto-tool-choice --tool-call-parser hermes" in joined
    assert "--tool-call-parser" not in " ".join(
        vllm_command("/m", 9000, served_name="q", tool_call_parser=None)
    )


async def test_waits_for_health_forwards_and_stops_cleanly(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    await engine.start()
    try:
        assert engine.ready()
        out = await generate(engine, REQ)
        assert out.text == "Bạn đã nói: xin chào"
        proc = engine._proc
    finally:
        await engine.close()
    assert proc is not None and proc.poll() is not None  # reaped, no zombie


async def test_start_failure_surfaces_log(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "--fail-start")
    with pytest.raises(ConfigError, match="code 3.*\n.*out of memory"):
        await engine.start()


async def test_crash_while_serving_is_reported(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "--die-after", "3")
    await engine.start()
    try:
        for _ in range(100):
            if not engine.ready():
                break
            await asyncio.sleep(0.1)
        assert not engine.ready()
        with pytest.raises(EngineUnavailable, match="exited with code 7"):
            await generate(engine, REQ)
    finally:
        await engine.close()
