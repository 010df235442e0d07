"""The FAISS side of the catalog: which faiss index holds the vectors, and when it changes shape.

Every vector carries the service's monotonically allocated int64 faiss id (``IndexIDMap``), so adding or removing
one never renumbers the others. Up to ``hnsw_threshold`` live vectors the index is exact (``IndexFlatIP``, cosine
as inner product over L2-normalised rows); above it, HNSW. HNSW cannot delete, so a removal there becomes a
tombstone that searches filter out (with over-fetch) until tombstones pass ``COMPACT_RATIO`` of the vectors;
then the live vectors are rebuilt into whichever kind their count calls for. That one rebuild
(``_rebuild``) serves both the flat -> HNSW conversion on growth and compaction.

The service records themselves live in ``index.py``; this module sees only ids and vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 256  # recall vs exact search: benchmarks/catalog_scale.py (docs/CATALOG.md)
COMPACT_RATIO = 0.1  # compact an HNSW index once tombstones exceed this share of its vectors


def new_faiss(kind: str, dim: int) -> Any:
    """An empty ``IndexIDMap`` over an exact (``flat``) or ``hnsw`` inner-product index."""
    import faiss

    if kind == "flat":
        return faiss.IndexIDMap(faiss.IndexFlatIP(dim))
    inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    inner.hnsw.efSearch = HNSW_EF_SEARCH
    return faiss.IndexIDMap(inner)


class FaissVectors:
    """The faiss index, its kind and its tombstones. Not thread-safe: the caller holds the index's lock."""

    def __init__(
        self,
        dim: int,
        *,
        kind: str = "flat",
        faiss_index: Any = None,
        tombstones: Iterable[int] = (),
        hnsw_threshold: int = HNSW_THRESHOLD,
    ) -> None:
        self.dim = dim
        self.kind = kind
        self.hnsw_threshold = hnsw_threshold
        self.index = faiss_index if faiss_index is not None else new_faiss(kind, dim)
        self.tombstones = set(tombstones)
        if kind == "hnsw" and faiss_index is not None:
            import faiss

            faiss.downcast_index(self.index.index).hnsw.efSearch = HNSW_EF_SEARCH  # type: ignore[attr-defined]

    @property
    def ntotal(self) -> int:
        """Vectors stored, tombstoned ones included."""
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray, fids: np.ndarray, live_after: int) -> None:
        """Insert rows under ``fids``; ``live_after`` (live services once they are in) may call for HNSW."""
        if self.kind == "flat" and live_after > self.hnsw_threshold:
            self._rebuild("hnsw")
        self.index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(fids, dtype=np.int64)
        )

    def remove(self, fids: list[int]) -> None:
        if not fids:
            return
        if self.kind == "flat":
            self.index.remove_ids(np.asarray(fids, dtype=np.int64))
        else:
            self.tombstones.update(fids)

    def maybe_compact(self) -> None:
        """Rebuild an HNSW index without its tombstones once they pile up (back to flat if few are left)."""
        if self.kind == "hnsw" and len(self.tombstones) > COMPACT_RATIO * max(self.ntotal, 1):
            live = self.ntotal - len(self.tombstones)
            self._rebuild("hnsw" if live > self.hnsw_threshold else "flat")

    def search(
        self, vecs: np.ndarray, k: int, is_live: Callable[[int], bool]
    ) -> list[list[tuple[int, float]]]:
        """Per query row, up to ``k`` (fid, score) of live services, best first."""
        dead = len(self.tombstones) / max(self.ntotal, 1)  # over-fetch so tombstones do not eat the top-k
        fetch = min(int(k / (1 - min(dead, 0.5)) * 2) + 10 if dead else k, self.ntotal)
        scores, fids = self.index.search(np.ascontiguousarray(vecs, dtype=np.float32), fetch)
        return [
            [
                (f, float(s))
                for s, f in zip(srow.tolist(), frow.tolist(), strict=True)
                if f >= 0 and is_live(f)
            ][:k]
            for srow, frow in zip(scores, fids, strict=True)
        ]

    def live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, fids) of every stored row that is not a tombstone."""
        import faiss

        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        vecs = self.index.index.reconstruct_n(0, self.ntotal) if len(ids) else np.zeros((0, self.dim))
        keep = np.array([i not in self.tombstones for i in ids.tolist()], dtype=bool)
        return np.ascontiguousarray(vecs[keep], dtype=np.float32), ids[keep]

    def _rebuild(self, kind: str) -> None:
        vecs, ids = self.live_vectors()
        self.index = new_faiss(kind, self.dim)
        self.kind = kind
        if len(ids):
            self.index.add_with_ids(vecs, ids)
        self.tombstones.clear()
