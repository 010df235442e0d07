"""On-disk layout of an index folder, written so that a crash at any moment leaves a loadable index.

    INDEX_DIR/
      meta.json                  format, embedder name+dim, version, services with their faiss ids, tombstones
      vectors-<version>.faiss    the faiss index (faiss's own binary format; never pickle)
      queries.npz                optional: embedded category names (a cache; numpy without pickle)

``meta.json`` names the vectors file it belongs to. A save writes the new vectors file under a fresh name,
then atomically replaces ``meta.json`` (tmp + fsync + ``os.replace``), then deletes stale vectors files. A crash
before the replace leaves the old pair intact; after it, the new pair; an orphan file is cleaned up next save.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from finadvisor.errors import ConfigError

FORMAT = "finadvisor-catalog-index"
FORMAT_VERSION = 1
META = "meta.json"

log = logging.getLogger(__name__)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; an index is meant to be read by the serving user too
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with: finadvisor catalog build CATALOG.json --index {index_dir}"


def save(index_dir: Path, meta: dict[str, Any], faiss_index: Any) -> None:
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    vectors_name = f"vectors-{meta['version']}.faiss"
    # A unique temporary name: replicas building the same index folder at once must not write into one file.
    tmp = index_dir / f".{vectors_name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        faiss.write_index(faiss_index, str(tmp))
        _fsync_file(tmp)
        os.replace(tmp, index_dir / vectors_name)
    except BaseException:
        tmp.unlink(missing_ok=True)  # disk full or crash: leave the previous pair exactly as it was
        raise
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta, "vectors_file": vectors_name}
    atomic_write_bytes(index_dir / META, json.dumps(meta, ensure_ascii=False).encode("utf-8"))
    for stale in index_dir.glob("vectors-*.faiss"):
        if stale.name != vectors_name:
            stale.unlink(missing_ok=True)


def exists(index_dir: Path) -> bool:
    return (Path(index_dir) / META).is_file()


def load(index_dir: Path) -> tuple[dict[str, Any], Any]:
    """Read and sanity-check the folder; every problem is a ConfigError that says how to fix it."""
    import faiss

    index_dir = Path(index_dir)
    meta_path = index_dir / META
    if not meta_path.is_file():
        raise ConfigError(f"{index_dir} is not a catalog index (no {META}); {rebuild_hint(index_dir)}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"catalog index {index_dir} is corrupt ({META} unreadable: {exc}); "
                          f"{rebuild_hint(index_dir)}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigError(f"{meta_path} is not a finadvisor catalog index file; {rebuild_hint(index_dir)}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"catalog index {index_dir} has format version {meta.get('format_version')}, this "
                          f"finadvisor reads version {FORMAT_VERSION}; {rebuild_hint(index_dir)}")
    for key, kind in (("embedder", dict), ("services", list), ("version", str), ("vectors_file", str),
                      ("next_fid", int), ("kind", str)):
        if not isinstance(meta.get(key), kind):
            raise ConfigError(f"catalog index {index_dir} is corrupt ({META} field {key!r} is missing or invalid); "
                              f"{rebuild_hint(index_dir)}")
    vectors = index_dir / Path(meta["vectors_file"]).name  # never follow a path out of the folder
    if not vectors.is_file():
        raise ConfigError(f"catalog index {index_dir} is incomplete ({vectors.name} is missing); "
                          f"{rebuild_hint(index_dir)}")
    try:
        faiss_index = faiss.read_index(str(vectors))
    except Exception as exc:  # faiss raises RuntimeError with a C++ message for truncated or garbled files
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"catalog index {index_dir} is corrupt ({vectors.name} cannot be read: {first}); "
                          f"{rebuild_hint(index_dir)}") from None
    return meta, faiss_index


QUERIES = "queries.npz"


def save_queries(index_dir: Path, embedder_name: str, texts: list[str], vectors: Any) -> None:
    """Persist embedded query texts (category names) next to the index: a cache, so a restart starts warm."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, embedder=np.array(embedder_name), texts=np.array(texts, dtype=str),
             vectors=np.asarray(vectors, dtype=np.float32))
    atomic_write_bytes(Path(index_dir) / QUERIES, buf.getvalue())


def load_queries(index_dir: Path, embedder_name: str, dim: int) -> tuple[list[str], Any]:
    """The saved query cache, or nothing when it is missing, unreadable or from another embedder (it is only a
    cache: a problem here costs some embedding time, never an error). Loaded without pickle."""
    import numpy as np

    path = Path(index_dir) / QUERIES
    empty: tuple[list[str], Any] = ([], np.zeros((0, dim), np.float32))
    if not path.is_file():
        return empty
    try:
        with np.load(path, allow_pickle=False) as data:
            name, texts, vectors = str(data["embedder"]), [str(t) for t in data["texts"]], data["vectors"]
    except Exception as exc:  # truncated zip, missing key, object arrays refused without pickle
        log.warning("ignoring the query cache %s: %s", path, exc)
        return empty
    if name != embedder_name or vectors.shape != (len(texts), dim):
        log.info("ignoring the query cache %s: it belongs to embedder %r", path, name)
        return empty
    return texts, np.ascontiguousarray(vectors, dtype=np.float32)
