"""A mock spending API, shaped like the seed's ``/v1/pfm/summary/category?filter_month=YYYY-MM``.

    finadvisor mock-spending-api --port 8100
    FINADVISOR_SPENDING_API_URL='http://127.0.0.1:8100/v1/pfm/summary/category?filter_month={month}' finadvisor serve

Users are the demo histories (``finadvisor/data/histories``) or any folder of ``<user>.json``; the token is
``demo-<user>``, sent as cookie ``token`` (as the seed's client does). Responses carry UI-only fields (``icon``,
``background``) like the real API, so the advisor's cleaning is exercised.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from finadvisor.advisor.providers import demo_histories_dir

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def create_mock_app(folder: Path | None = None) -> FastAPI:
    folder = Path(folder) if folder else demo_histories_dir()
    users = {f"demo-{p.stem}": p for p in folder.glob("*.json")}
    app = FastAPI(title="mock spending API")

    @app.get("/v1/pfm/summary/category")
    async def summary(request: Request, filter_month: str = Query(...)) -> JSONResponse:
        token = request.cookies.get("token", "")
        path = users.get(token)
        if path is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if not _MONTH.fullmatch(filter_month):
            return JSONResponse({"error": "bad filter_month"}, status_code=400)
        data = json.loads(path.read_text(encoding="utf-8"))
        for kind in ("earning", "spending"):
            for item in data.get(kind, []):
                item.setdefault("icon", "https://cdn.example/icons/category.png")
                item.setdefault("background", "#F2F4F7")
        return JSONResponse({"month": filter_month, **data})

    @app.get("/users")
    async def list_users() -> JSONResponse:
        return JSONResponse({"tokens": sorted(users)})

    return app
