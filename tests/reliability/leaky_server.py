"""A server whose routes fail with secrets in the exception text, run exactly as ``finadvisor serve`` runs it.

    python -m tests.reliability.leaky_server PORT API_KEY LOG_FORMAT

Used by test_secrets_under_uvicorn.py: whatever this process writes must not contain the key or the cookie.
"""

from __future__ import annotations

import sys

from fastapi import APIRouter, Request

from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.server.cli import run_server
from finadvisor.settings import Settings

router = APIRouter()


@router.get("/api/boom")
async def boom(request: Request) -> None:
    # What a careless dependency does: echo the request's headers in its exception.
    raise RuntimeError(
        f"upstream refused authorization={request.headers.get('authorization')} "
        f"with {request.headers.get('cookie')} raw {request.headers.get('authorization', '')[7:]}"
    )


@router.get("/api/boom-config")
async def boom_config(request: Request) -> None:
    raise ValueError(
        f"bad key {request.app.state.settings.api_key!r} for https://u:pw-xyz-123@llm.internal/v1"
    )


def main() -> None:
    port, key, log_format = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    settings = Settings(
        engine="fake",
        api_key=key,
        port=port,
        log_format=log_format,  # type: ignore[arg-type]
        embedder="hash",
        cache_dir=sys.argv[4],
        index_dir=sys.argv[4] + "/index",
    )
    run_server(create_app(settings, engine=FakeEngine(), extra_routers=[router]), settings)


if __name__ == "__main__":
    main()
