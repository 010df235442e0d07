"""A tiny random Qwen2 model and a locally trained byte-level BPE tokenizer with a ChatML template.

Weights use a wide init (std 0.5) so that greedy decoding has clear winners: with the usual 0.02 the logits of a
random model nearly tie and fp32 rounding differences between torch and llama.cpp flip argmaxes.

No downloads: the tokenizer is trained in ~0.1 s on a few sentences, the model is built from a config. The same
weights and vocabulary can be written as a GGUF so that llama.cpp can run the exact model that PEFT trains.
"""

from __future__ import annotations

import json
from pathlib import Path

CHATML = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "You are a helpful assistant.",
    "system user assistant",
    "Làm sao để nạp tiền điện thoại?",
    "Mở ứng dụng, chọn Nạp tiền điện thoại, nhập số và số tiền.",
    "How do I pay my electricity bill?",
    "Open the app, choose Bills, then Electricity, and confirm.",
    "Phí chuyển tiền là bao nhiêu?",
    "Chuyển tiền nội bộ miễn phí; chuyển liên ngân hàng có phí nhỏ.",
    "What is the transfer limit per day?",
    "The daily limit depends on your verification level.",
    "ví điện tử, tiết kiệm, vay, bảo hiểm, hoá đơn, thẻ, ngân hàng, khuyến mãi",
] * 3


def build_tokenizer(folder: Path, vocab_size: int = 384):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML
    fast.save_pretrained(folder)
    return fast


def build_model(folder: Path, vocab_size: int, *, seed: int = 0, init_range: float = 0.5):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        initializer_range=init_range,
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config.eos_token_id = 2
    model.generation_config.pad_token_id = 0
    model.save_pretrained(folder)
    return model


def build_tiny_base(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(folder)
    build_model(folder, len(tok))
    return folder


def write_gguf(hf_folder: Path, out: Path) -> Path:
    """The tiny HF model as an f32 GGUF (qwen2 arch, GPT-2 byte-level vocab) that llama.cpp loads."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    cfg = json.loads((hf_folder / "config.json").read_text())
    tok_json = json.loads((hf_folder / "tokenizer.json").read_text())
    vocab: dict[str, int] = dict(tok_json["model"]["vocab"])
    for added in tok_json.get("added_tokens", []):
        vocab[added["content"]] = added["id"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok_json["model"]["merges"]]
    types = [gguf.TokenType.CONTROL if t in SPECIALS else gguf.TokenType.NORMAL for t in tokens]

    w = gguf.GGUFWriter(str(out), "qwen2")
    w.add_name("tiny-qwen2")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(
        float(cfg.get("rope_theta") or cfg.get("rope_parameters", {}).get("rope_theta", 1e4))
    )
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_eos_token_id(vocab["<|im_end|>"])
    w.add_pad_token_id(vocab["<|endoftext|>"])
    w.add_bos_token_id(vocab["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, cfg["num_hidden_layers"])
    state = load_file(str(hf_folder / "model.safetensors"))
    for hf_name, value in sorted(state.items()):
        dest = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if dest is None:
            raise ValueError(f"no GGUF name for {hf_name}")
        w.add_tensor(dest, np.ascontiguousarray(value.astype(np.float32)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def random_adapter(base_folder: Path, out: Path, *, seed: int = 1, rank: int = 4) -> Path:
    """A PEFT LoRA with random (non-zero) A and B on every projection: changes the output, no training."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_folder)
    torch.manual_seed(seed)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    peft_model = get_peft_model(
        model,
        LoraConfig(
            r=rank,
            lora_alpha=2 * rank,
            target_modules=targets,
            init_lora_weights=False,
            task_type="CAUSAL_LM",
        ),
    )
    peft_model.save_pretrained(out)
    return out


FAQ = [
    ("Phí chuyển tiền là bao nhiêu?", "Chuyển tiền nội bộ miễn phí."),
    ("How do I pay my electricity bill?", "Open the app, choose Bills, then Electricity."),
    ("Làm sao để nạp tiền điện thoại?", "Mở ứng dụng, chọn Nạp tiền điện thoại."),
    ("What is the transfer limit per day?", "The daily limit depends on your verification level."),
]


def write_faq_jsonl(path: Path, system: bool = True) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for q, a in FAQ:
            messages = [{"role": "system", "content": "You are a helpful assistant."}] if system else []
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
            fh.write(json.dumps({"type": "chatml", "messages": messages}, ensure_ascii=False) + "\n")
    return path
