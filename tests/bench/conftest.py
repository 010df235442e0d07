from __future__ import annotations

import pytest

from tests.bench.fake_openai import FakeServer, ServerThread


@pytest.fixture
def fake_server():
    state = FakeServer()
    with ServerThread(state) as running:
        yield running
