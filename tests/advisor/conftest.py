"""Advisor fixtures: an app on the fake engine whose script answers like a well-behaved advisor model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from finadvisor.app import create_app
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.helpers import started_client

HISTORY = {
    "earning": [{"name": "Lương", "amount": 18000000, "count": 1, "icon": "x.png"}],
    "spending": [
        {"name": "Hóa đơn điện", "amount": "1.350.000", "count": 1, "background": "#fff"},
        {"name": "Nạp tiền điện thoại", "amount": 200000, "count": 2},
        {"name": "Ăn uống", "amount": 3450000, "count": 42},
    ],
}


def candidate_names(request: GenerationRequest) -> list[str]:
    """The services the ranker chose, in order (the schema fixes item i's service)."""
    assert request.json_schema is not None
    items = request.json_schema["properties"]["recommendations"]["prefixItems"]
    return [item["properties"]["service"]["const"] for item in items]


def good_script(request: GenerationRequest) -> str:
    """A model that writes true, specific sentences: each reason names its service and the category of its
    evidence line (the prompt shows no amounts; the advisor states them itself)."""
    names = candidate_names(request)
    lines = [line for line in request.messages[-1]["content"].splitlines() if " - vì: " in line]
    reasons = []
    for name, line in zip(names, lines, strict=False):
        evidence = line.split(" - vì: ", 1)[1]
        if evidence.startswith("khoản chi") and evidence.count('"') >= 2:
            category = evidence.split('"')[1]
            reasons.append(f"Dùng {name} cho khoản {category} giúp bạn chi tiêu thông minh hơn.")
        else:
            reasons.append(f"Dùng {name} giúp khoản thu nhập nhàn rỗi của bạn sinh lời.")
    return json.dumps(
        {
            "recommendations": [
                {"service": n, "recommendation": r} for n, r in zip(names, reasons, strict=False)
            ]
        },
        ensure_ascii=False,
    )


@pytest.fixture
def advisor_settings(tmp_path: Path) -> Settings:
    return Settings(
        engine="fake",
        cache_dir=tmp_path / "cache",
        embedder="hash",
        index_dir=tmp_path / "index",
        rate_limit_per_min=1000,
    )


@pytest.fixture
def make_client(advisor_settings: Settings) -> Callable[..., AsyncIterator[httpx.AsyncClient]]:
    def factory(
        script: Callable[[GenerationRequest], str] = good_script, **engine_kw: float
    ) -> AsyncIterator[httpx.AsyncClient]:
        engine = FakeEngine(script=script, **engine_kw)
        app = create_app(advisor_settings, engine=engine)
        app.state.test_engine = engine
        return started_client(app)

    return factory


@pytest.fixture(scope="session")
def demo_ranker():  # type: ignore[no-untyped-def]
    """The ranker over the demo catalog (hash embedder: offline, deterministic)."""
    from finadvisor.advisor.category_map import load_category_map
    from finadvisor.advisor.ranker import Ranker
    from finadvisor.catalog import CatalogIndex, HashEmbedder, demo_catalog_path, load_catalog

    return Ranker(CatalogIndex.build(load_catalog(demo_catalog_path()), HashEmbedder()), load_category_map())
