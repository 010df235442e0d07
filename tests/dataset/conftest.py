from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dataset"
DEMO = Path(__file__).resolve().parents[2] / "finadvisor" / "data" / "faq_demo"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
