"""Shared fixtures: settings in a temp cache dir, the fake engine, an in-process app client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.helpers import started_client

REAL_CACHE = Path(os.environ.get("FINADVISOR_CACHE_DIR", Path.home() / ".cache" / "finadvisor"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        engine="fake", cache_dir=tmp_path / "cache", embedder="hash", index_dir=tmp_path / "index"
    )


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
async def client(settings: Settings, fake_engine: FakeEngine) -> AsyncIterator[httpx.AsyncClient]:
    from finadvisor.app import create_app

    app = create_app(settings, engine=fake_engine)
    async for c in started_client(app):
        yield c


@pytest.fixture(scope="session")
def default_model() -> Path:
    from finadvisor.models import default_model_path

    return default_model_path(REAL_CACHE)
