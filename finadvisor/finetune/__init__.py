"""LoRA fine-tuning: ChatML data with assistant-only loss, TRL SFT, GGUF LoRA export, merge, and evaluation.

    finadvisor finetune train --data train.jsonl --out out/faq        # PEFT adapter (+ adapter.gguf)
    finadvisor finetune eval --data eval.jsonl --adapter out/faq      # base vs adapter, side by side
    finadvisor finetune export-gguf --adapter out/faq --out lora.gguf # for llama.cpp
    finadvisor finetune merge --adapter out/faq --out merged/         # a standalone HF model

Modules: ``config`` (options, recipes), ``data`` (ChatML -> masked tokens), HF/GGUF loading in ``finadvisor.hf_models``,
``train``, ``export``, ``merge``, ``evaluate``, ``cli``. Heavy libraries (torch, transformers, peft, trl) are
imported inside functions so that importing this package stays cheap.
"""
