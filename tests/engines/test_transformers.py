"""TransformersEngine on the tiny Qwen2: streaming, adapters by name, stop strings, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from finadvisor.engines import ENGINES
from finadvisor.engines.base import Engine, GenerationRequest, generate
from finadvisor.engines.transformers import TransformersEngine
from finadvisor.errors import ConfigError, EngineUnavailable, NotFound
from finadvisor.settings import Settings
from tests.finetune.tiny import build_tiny_base, random_adapter

MESSAGES = [{"role": "user", "content": "Phí chuyển tiền là bao nhiêu?"}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("tiny-engine")
    base = build_tiny_base(root / "base")
    return base, random_adapter(base, root / "faq", seed=1), random_adapter(base, root / "other", seed=2)


@pytest.fixture
async def engine(tiny):
    base, faq, other = tiny
    settings = Settings(engine="transformers", model=str(base), lora=[f"faq={faq}", f"other={other}"])
    eng = ENGINES["transformers"](settings)
    assert not eng.ready()
    await eng.start()
    yield eng
    await eng.close()


async def test_adapter_by_name_changes_the_output_and_base_is_restored(engine):
    assert isinstance(engine, Engine) and engine.name == "transformers" and engine.supports_lora
    assert engine.adapters() == ["faq", "other"]
    req = dict(messages=MESSAGES, max_tokens=12)
    base1 = await generate(engine, GenerationRequest(**req))
    faq = await generate(engine, GenerationRequest(**req, adapter="faq"))
    other = await generate(engine, GenerationRequest(**req, adapter="other"))
    base2 = await generate(engine, GenerationRequest(**req))
    assert len({base1.text, faq.text, other.text}) == 3
    assert base1 == base2  # disabling adapters gives the base back, deterministically
    assert base1.prompt_tokens == faq.prompt_tokens > 10


async def test_streams_several_deltas_and_reports_usage(engine):
    deltas = [d async for d in engine.stream(GenerationRequest(messages=MESSAGES, max_tokens=10))]
    assert sum(1 for d in deltas if d.text) >= 2
    last = deltas[-1]
    assert last.finish_reason == "length" and last.completion_tokens == 10
    assert all(d.finish_reason is None for d in deltas[:-1])
    full = await generate(engine, GenerationRequest(messages=MESSAGES, max_tokens=10))
    assert full.text == "".join(d.text for d in deltas)


async def test_stop_string_cuts_the_text(engine):
    full = await generate(engine, GenerationRequest(messages=MESSAGES, max_tokens=16))
    stop = full.text[4:7]
    assert stop and stop in full.text
    cut = await generate(engine, GenerationRequest(messages=MESSAGES, max_tokens=16, stop=[stop]))
    assert cut.text == full.text[: full.text.index(stop)]
    assert cut.finish_reason == "stop"


async def test_unknown_adapter_is_not_found(engine):
    with pytest.raises(NotFound, match="unknown LoRA adapter 'nope'"):
        await generate(engine, GenerationRequest(messages=MESSAGES, adapter="nope"))


async def test_errors_before_start_and_for_bad_adapter_specs(tiny, tmp_path: Path):
    base, faq, _ = tiny
    eng = TransformersEngine(str(base))
    with pytest.raises(EngineUnavailable):
        await generate(eng, GenerationRequest(messages=MESSAGES))
    with pytest.raises(ConfigError, match="expects NAME=DIR"):
        TransformersEngine(str(base), lora=[str(faq)])
    with pytest.raises(ConfigError, match="not a PEFT adapter folder"):
        TransformersEngine(str(base), lora=[f"x={tmp_path}"])
    with pytest.raises(ConfigError, match="does not exist"):
        await TransformersEngine(str(tmp_path / "missing")).start()
