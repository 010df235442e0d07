"""Test helpers importable from any test module."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx


async def started_client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """An httpx client over ASGI with the app's lifespan running and the engine ready."""
    async with app.router.lifespan_context(app):
        engine = app.state.llm.engine
        for _ in range(200):
            if engine.ready():
                break
            await asyncio.sleep(0.01)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: object, timeout_s: float = 120) -> None:
    """Poll ``url``/health until 200; fail early if the process died."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if getattr(proc, "poll", lambda: None)() is not None:
            raise RuntimeError(f"server exited early with code {proc.poll()}")  # type: ignore[attr-defined]
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not healthy after {timeout_s} s")


def require_binary(name: str) -> str:
    """Path of a system binary; skip locally when missing, but fail in CI (the install script provides it)."""
    import os
    import shutil

    import pytest

    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing in CI; scripts/install.sh should have installed it")
        pytest.skip(f"{name} is not installed (run scripts/install.sh)")
    return path


def stop_process(proc, timeout_s: float = 20, *, kill: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Terminate (or kill) a child, wait for it, and close its pipes (no ResourceWarning for the pipes)."""
    import subprocess

    (proc.kill if kill else proc.terminate)()
    try:
        proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


@contextlib.contextmanager
def served(
    *flags: str,
    env: dict[str, str] | None = None,
    stderr: object = None,
    cwd: object = None,
    timeout_s: float = 120,
) -> Iterator[str]:
    """``finadvisor serve`` as a user runs it, on a free port: yields its URL once /health is 200, then stops it
    (pipes closed). ``flags`` go to ``serve``; ``stderr`` is a file or ``subprocess.PIPE`` (default: inherited)."""
    import subprocess
    import sys

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "finadvisor.cli", "serve", "--port", str(port), *flags],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, timeout_s)
        yield url
    finally:
        stop_process(proc)
