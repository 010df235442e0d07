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
    assert request.json_schema is not None
    return request.json_schema["properties"]["recommendations"]["items"]["properties"]["service"]["enum"]


def good_script(request: GenerationRequest) -> str:
    names = candidate_names(request)
    return json.dumps({
        "summarization": "Tháng này bạn chi nhiều nhất cho ăn uống và hóa đơn điện.",
        "recommendations": [{"service": n, "recommendation": f"Dịch vụ {n} giúp bạn quản lý khoản chi này tốt hơn."}
                            for n in names[:2]],
    }, ensure_ascii=False)


@pytest.fixture
def advisor_settings(tmp_path: Path) -> Settings:
    return Settings(engine="fake", cache_dir=tmp_path / "cache", embedder="hash", index_dir=tmp_path / "index",
                    rate_limit_per_min=1000)


@pytest.fixture
def make_client(advisor_settings: Settings) -> Callable[..., AsyncIterator[httpx.AsyncClient]]:
    def factory(script: Callable[[GenerationRequest], str] = good_script, **engine_kw: float
                ) -> AsyncIterator[httpx.AsyncClient]:
        engine = FakeEngine(script=script, **engine_kw)
        app = create_app(advisor_settings, engine=engine)
        app.state.test_engine = engine
        return started_client(app)
    return factory
