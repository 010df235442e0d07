"""Session fixtures: one tiny Qwen2 (HF folder + GGUF), a FAQ JSONL, a random adapter. Built once, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.finetune.tiny import build_tiny_base, random_adapter, write_faq_jsonl, write_gguf


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_base(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="session")
def tiny_gguf(tiny_base: Path) -> Path:
    return write_gguf(tiny_base, tiny_base.parent / "tiny.gguf")


@pytest.fixture(scope="session")
def faq_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_faq_jsonl(tmp_path_factory.mktemp("data") / "faq.jsonl")


@pytest.fixture(scope="session")
def random_lora(tiny_base: Path) -> Path:
    return random_adapter(tiny_base, tiny_base.parent / "random-lora")
