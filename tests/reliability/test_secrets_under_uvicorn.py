"""Secrets never reach stdout/stderr under real uvicorn (issue 14 item 8), in text and JSON log formats.

A subprocess serves routes that raise with the API key, the session cookie and URL credentials in the exception
text. Starlette re-raises such errors after answering 500, so uvicorn's own logger prints the traceback too: that
path, our error handler's path and the traceback text are all checked. The same real server also gets a chunked 1.5 MB body (413, item 7).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port, wait_healthy

pytestmark = pytest.mark.integration
KEY = "sk-live-KEY-0123456789abcdef"
SESSION = "sess-TOKEN-9876543210zyxw"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_500_with_secrets_in_the_exception_leaks_nothing(tmp_path: Path, log_format: str) -> None:
    port = free_port()
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability.leaky_server",
                str(port),
                KEY,
                log_format,
                str(tmp_path / "cache"),
            ],
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, proc, timeout_s=60)
            headers = {"Authorization": f"Bearer {KEY}", "Cookie": f"zlp_token={SESSION}"}
            for path in ("/api/boom", "/api/boom-config"):
                r = httpx.get(url + path, headers=headers, timeout=10)
                assert r.status_code == 500 and KEY not in r.text and SESSION not in r.text
            health = httpx.get(url + "/health", timeout=10)
            assert health.json() == {"status": "ok"}

            def chunks() -> Iterator[bytes]:  # 1.5 MB with no Content-Length (Transfer-Encoding: chunked)
                for _ in range(24):
                    yield b" " * 65_536

            big = httpx.post(
                url + "/api/recommendations",
                content=chunks(),
                timeout=30,
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
            )
            assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
        finally:
            proc.terminate()
            proc.wait(10)
    written = out.read_text(errors="replace") + err.read_text(errors="replace")
    assert "RuntimeError" in written and "ValueError" in written  # the errors were logged, with tracebacks
    assert "Exception in ASGI application" in written  # ... by uvicorn's logger as well
    for secret in (KEY, SESSION, "pw-xyz-123", KEY[8:]):
        assert secret not in written
    assert "[REDACTED]" in written
    if log_format == "json":
        lines = [line for line in err.read_text().splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        assert any(rec.get("exc") for rec in records)
        assert {"ts", "level", "logger", "message"} <= set(records[0])
