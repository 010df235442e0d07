"""The composition root: the OpenAI-compatible server with the advisor's routes mounted on it.

    app = create_app(settings)          # what ``finadvisor serve`` and each Ray Serve replica run

``server/`` knows nothing of the advisor; the advisor's routers reach it through ``extra_routers``. This is the
one module that imports both.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from finadvisor.advisor import routes as advisor_routes
from finadvisor.engines import Engine
from finadvisor.server import create_app as create_server_app
from finadvisor.settings import Settings


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, extra_routers: list[Any] | None = None
) -> FastAPI:
    from finadvisor.advisor.build import with_writer_adapter

    return create_server_app(
        with_writer_adapter(settings or Settings()),
        engine=engine,
        extra_routers=[*advisor_routes.routers, *(extra_routers or [])],
        on_install=[advisor_routes.install],
    )
