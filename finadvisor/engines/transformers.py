"""The Hugging Face transformers engine: the seed's slow baseline, kept for comparison and for PEFT adapters.

    finadvisor serve --engine transformers --lora faq=out/faq

It loads a local HF folder or a GGUF (dequantised to fp32; default: the packaged Qwen2.5 0.5B), renders the chat
template, and runs ``model.generate`` in a worker thread with a ``TextIteratorStreamer`` so text streams as it is
decoded. There is no batching: one request at a time behind an ``asyncio.Lock`` (llama.cpp is the engine to use
for throughput). LoRA adapters are PEFT folders given as ``NAME=DIR``; ``GenerationRequest.adapter`` picks one by
name, ``None`` runs the base model with the adapters disabled. JSON-schema constraints are not enforced here
(``supports_json_schema = False``): the OpenAI routes refuse ``response_format`` with a 400, and internal callers
that validate the output themselves (the advisor) run unconstrained. Tools, logprobs, penalties and raw prompts
are not implemented, so those parameters are refused too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from finadvisor.engines.base import Delta, GenerationRequest
from finadvisor.errors import ConfigError, ContextOverflow, EngineUnavailable, NotFound, UpstreamError
from finadvisor.settings import Settings

log = logging.getLogger(__name__)


def parse_lora_specs(specs: list[str]) -> dict[str, Path]:
    """``["faq=out/faq"]`` -> ``{"faq": Path("out/faq")}``, checking each folder is a PEFT adapter."""
    adapters: dict[str, Path] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise ConfigError(f"--lora expects NAME=DIR, got {spec!r}")
        path = Path(folder.strip()).expanduser()
        if not (path / "adapter_config.json").is_file():
            raise ConfigError(
                f"LoRA {name}: {path} is not a PEFT adapter folder (no adapter_config.json); "
                "pass the --out folder of 'finadvisor finetune train'"
            )
        if name in adapters:
            raise ConfigError(f"LoRA name {name!r} is given twice")
        adapters[name.strip()] = path
    return adapters


class _Cancel:
    """A StoppingCriteria-compatible flag, set when the client goes away."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
        return self.event.is_set()


class TransformersEngine:
    name = "transformers"
    supports_json_schema = False
    supports_lora = True
    supports_tools = False
    supports_logprobs = False
    supports_penalties = False
    supports_completions = False
    slots = 1  # one generate() at a time behind a lock

    def __init__(
        self,
        model: str | None = None,
        *,
        cache_dir: Path | None = None,
        lora: list[str] | None = None,
        n_threads: int = 0,
        model_name: str = "default",
    ) -> None:
        self.model_path = model
        self.cache_dir = cache_dir
        self.n_threads = n_threads
        self.model_name = model_name
        self._lora = parse_lora_specs(lora or [])
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> TransformersEngine:
        return cls(
            settings.model,
            cache_dir=settings.cache_dir,
            lora=settings.lora,
            n_threads=settings.n_threads,
            model_name=settings.model_name,
        )

    # --- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        import torch

        from finadvisor.hf_models import available_cores, load_base, resolve_base

        spec = resolve_base(self.model_path, self.cache_dir)
        model, tokenizer = load_base(spec)
        torch.set_num_threads(self.n_threads or available_cores())
        if self._lora:
            from peft import PeftModel

            names = list(self._lora)
            try:
                model = PeftModel.from_pretrained(model, str(self._lora[names[0]]), adapter_name=names[0])
                for name in names[1:]:
                    model.load_adapter(str(self._lora[name]), adapter_name=name)
            except (ValueError, RuntimeError, OSError) as exc:
                raise ConfigError(
                    f"could not load the LoRA adapters onto {spec}: {exc}; was the adapter "
                    "trained on this base model?"
                ) from exc
        model.eval()
        self._model, self._tokenizer = model, tokenizer
        log.info("transformers ready: %s, adapters %s", spec, names if self._lora else [])

    async def close(self) -> None:
        async with self._lock:
            self._model = None
            self._tokenizer = None

    def ready(self) -> bool:
        return self._model is not None

    def adapters(self) -> list[str]:
        return list(self._lora)

    # --- generation ------------------------------------------------------------------------------------
    def _inputs(self, request: GenerationRequest) -> Any:
        tok = self._tokenizer
        if getattr(tok, "chat_template", None) is None:
            raise ConfigError("this model's tokenizer has no chat template; use an instruct model")
        enc = tok.apply_chat_template(
            request.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        limit = getattr(self._model.config, "max_position_embeddings", None)
        n_prompt = int(enc["input_ids"].shape[1])
        if limit is not None and n_prompt + 1 > limit:
            raise ContextOverflow(
                f"the prompt has {n_prompt} tokens but this model's context is {limit} tokens; "
                "shorten the messages",
                param="messages",
                code="context_length_exceeded",
            )
        return enc.to(self._model.device)

    def _generate_kwargs(self, request: GenerationRequest, enc: Any, streamer: Any, cancel: _Cancel) -> dict:
        from transformers import StoppingCriteriaList

        kwargs: dict[str, Any] = dict(
            enc,
            max_new_tokens=request.max_tokens,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([cancel]),
            pad_token_id=self._tokenizer.pad_token_id,
        )
        if request.temperature is not None and request.temperature > 0:
            kwargs.update(do_sample=True, temperature=request.temperature)
            if request.top_p is not None:
                kwargs["top_p"] = request.top_p
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _run(self, request: GenerationRequest, kwargs: dict, result: dict) -> None:
        """Worker thread: pick the adapter, generate, record the output length; always end the streamer."""
        import contextlib

        import torch

        model = self._model
        try:
            if request.seed is not None:
                torch.manual_seed(request.seed)
            ctx: Any = contextlib.nullcontext()
            if self._lora:
                if request.adapter is None:
                    ctx = model.disable_adapter()
                else:
                    model.set_adapter(request.adapter)
            with ctx, torch.inference_mode():
                out = model.generate(**kwargs)
            result["ids"] = out[0, kwargs["input_ids"].shape[1] :].tolist()
        except Exception as exc:  # surfaced to the caller as UpstreamError
            result["error"] = exc
            kwargs["streamer"].end()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        from transformers import TextIteratorStreamer

        if not self.ready():
            raise EngineUnavailable("the transformers engine is still loading", retry_after=5)
        if request.adapter is not None and request.adapter not in self._lora:
            raise NotFound(
                f"unknown LoRA adapter {request.adapter!r}; loaded: {sorted(self._lora) or 'none'} "
                "(start the server with --lora NAME=DIR)",
                param="model",
                code="model_not_found",
            )
        async with self._lock:
            enc = self._inputs(request)
            n_prompt = int(enc["input_ids"].shape[1])
            streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
            cancel = _Cancel()
            result: dict[str, Any] = {}
            kwargs = self._generate_kwargs(request, enc, streamer, cancel)
            worker = threading.Thread(
                target=self._run, args=(request, kwargs, result), daemon=True, name="transformers-generate"
            )
            worker.start()
            stops = [s for s in (request.stop or []) if s]
            hold = max((len(s) for s in stops), default=1) - 1
            text, sent, stopped = "", 0, False
            try:
                chunks = iter(streamer)
                while True:
                    piece = await asyncio.to_thread(next, chunks, None)
                    if piece is None:
                        break
                    text += piece
                    if stops:
                        cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
                        if cut >= 0:
                            text, stopped = text[:cut], True
                            cancel.event.set()
                            break
                    safe = len(text) - hold if stops else len(text)
                    if safe > sent:
                        yield Delta(text=text[sent:safe])
                        sent = safe
            finally:
                cancel.event.set()  # no-op when finished; stops decoding when the client went away
                await asyncio.to_thread(worker.join)
            if "error" in result:
                raise UpstreamError(f"transformers generation failed: {result['error']}")
            ids = result.get("ids", [])
            eos = self._model.generation_config.eos_token_id
            eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self._tokenizer.eos_token_id}
            hit_length = len(ids) >= request.max_tokens and not (ids and ids[-1] in eos_ids)
            finish = "length" if hit_length and not stopped else "stop"
            completion = len([t for t in ids if t not in eos_ids and t != self._tokenizer.pad_token_id])
            yield Delta(
                text=text[sent:], finish_reason=finish, prompt_tokens=n_prompt, completion_tokens=completion
            )
