"""GGUF LoRA export: llama.cpp's conventions, and the same greedy tokens in llama.cpp as in PEFT (same chat template, tokenizer, weights)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from finadvisor.errors import ConfigError
from finadvisor.finetune.export import BaseShape, export_gguf_lora

SHAPE = BaseShape("qwen2", num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
PROMPTS = [
    [{"role": "user", "content": "Phí chuyển tiền là bao nhiêu?"}],
    [{"role": "user", "content": "How do I pay my electricity bill?"}],
    [{"role": "system", "content": "Trả lời ngắn gọn."}, {"role": "user", "content": "Làm sao để nạp tiền?"}],
]


def test_tensor_names_shapes_and_metadata(random_lora: Path, tmp_path: Path):
    import gguf
    from safetensors.torch import load_file

    info = export_gguf_lora(random_lora, tmp_path / "lora.gguf", SHAPE)
    assert info["tensors"] == 2 * 7 * 2 and info["alpha"] == 8.0 and info["arch"] == "qwen2"
    reader = gguf.GGUFReader(tmp_path / "lora.gguf")
    fields = {
        name: reader.fields[name]
        for name in ("general.type", "adapter.type", "adapter.lora.alpha", "general.architecture")
    }
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert bytes(fields["adapter.type"].parts[-1]).decode() == "lora"
    assert bytes(fields["general.architecture"].parts[-1]).decode() == "qwen2"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 8.0
    tensors = {t.name: t for t in reader.tensors}
    peft = load_file(str(random_lora / "adapter_model.safetensors"))
    a = peft["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"].numpy()
    b = peft["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"].numpy()
    qa, db = tensors["blk.1.attn_q.weight.lora_a"], tensors["blk.1.ffn_down.weight.lora_b"]
    # ggml shapes are reversed numpy shapes: lora_a [in, r], lora_b [r, out], as llama.cpp checks
    assert list(qa.shape) == [64, 4] and list(db.shape) == [4, 64]
    assert (qa.data.reshape(a.shape) == a).all() and (db.data.reshape(b.shape) == b).all()


def test_unsupported_adapters_are_refused(random_lora: Path, tmp_path: Path):
    for key, value, message in [
        ("use_dora", True, "DoRA"),
        ("alpha_pattern", {"q_proj": 4}, "alpha_pattern"),
        ("modules_to_save", ["lm_head"], "modules_to_save"),
    ]:
        bad = tmp_path / key
        shutil.copytree(random_lora, bad)
        cfg = json.loads((bad / "adapter_config.json").read_text())
        cfg[key] = value
        (bad / "adapter_config.json").write_text(json.dumps(cfg))
        with pytest.raises(ConfigError, match=message):
            export_gguf_lora(bad, tmp_path / "x.gguf", SHAPE)
    with pytest.raises(ConfigError, match="not a PEFT adapter"):
        export_gguf_lora(tmp_path, tmp_path / "x.gguf", SHAPE)
    with pytest.raises(ConfigError, match="no architecture named"):
        export_gguf_lora(random_lora, tmp_path / "x.gguf", BaseShape("not-an-arch", 2, 4, 2))
    assert not (tmp_path / "x.gguf").exists()


def _peft_greedy(base: Path, adapter: Path, n: int) -> list[tuple[list[int], list[int], list[int]]]:
    """(prompt ids, greedy ids with the adapter, greedy ids without) per prompt, from transformers + PEFT."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter)).eval()
    out = []
    for messages in PROMPTS:
        enc = tok.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        start = enc["input_ids"].shape[1]
        with torch.no_grad():
            with_lora = model.generate(**enc, max_new_tokens=n, do_sample=False, eos_token_id=None)
            with model.disable_adapter():
                without = model.generate(**enc, max_new_tokens=n, do_sample=False, eos_token_id=None)
        out.append((enc["input_ids"][0].tolist(), with_lora[0, start:].tolist(), without[0, start:].tolist()))
    return out


@pytest.mark.integration
def test_llamacpp_with_the_gguf_lora_matches_peft_greedy_output(
    tiny_base: Path, tiny_gguf: Path, random_lora: Path, tmp_path: Path
):
    import xllamacpp as xlc
    from transformers import AutoTokenizer

    n = 16
    tok = AutoTokenizer.from_pretrained(tiny_base)
    lora = export_gguf_lora(random_lora, tmp_path / "lora.gguf", SHAPE)["path"]
    expected = _peft_greedy(tiny_base, random_lora, n)
    params = xlc.CommonParams()
    params.model.path = str(tiny_gguf)
    params.n_ctx, params.n_parallel = 512, 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1
    params.lora_adapters = [xlc.CommonAdapterLoraInfo(lora, 0.0)]
    params.lora_init_without_apply = True
    server = xlc.Server(params)
    try:
        for messages, (prompt_ids, with_lora, without) in zip(PROMPTS, expected, strict=True):
            chat = server.handle_chat_completions({"messages": messages, "max_tokens": 1})
            assert chat["usage"]["prompt_tokens"] == len(prompt_ids)  # same template and tokenizer
            for scale, want in ((1.0, with_lora), (0.0, without)):
                r = server.handle_completions(
                    {
                        "prompt": prompt_ids,
                        "max_tokens": n,
                        "temperature": 0,
                        "ignore_eos": True,
                        "logprobs": 1,
                        "lora": [{"id": 0, "scale": scale}],
                    }
                )
                choice = r["choices"][0]
                assert choice["text"] == tok.decode(want)
                # logprobs list whole-character tokens only (a random model also emits partial UTF-8 bytes)
                ids = [t["id"] for t in choice["logprobs"]["content"]]
                it = iter(want)
                assert ids and all(t in it for t in ids)
            assert with_lora != without  # the adapter matters, so the matches above are meaningful
    finally:
        del server
