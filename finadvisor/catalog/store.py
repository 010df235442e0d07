"""On-disk layout of an index folder, written so that a crash at any moment leaves a loadable index.

    INDEX_DIR/
      meta.json                  format, embedder name+dim, version, services with their faiss ids, tombstones
      vectors-<version>.faiss    the faiss index (faiss's own binary format; never pickle)
      queries.npz                optional: embedded category names (a cache; numpy without pickle)

      .lock                      empty; ``flock``ed by writers (exclusive) and by ``open`` (shared)

``meta.json`` names the vectors file it belongs to. A save writes the new vectors file under a fresh name,
then atomically replaces ``meta.json`` (``fsutil.atomic_write``: tmp + fsync + rename + fsync of the folder),
then deletes stale vectors files. A crash before the replace leaves the old pair intact; after it, the new pair;
an orphan file is cleaned up next save.

Several processes may share one folder (``catalog add`` while a server runs, replicas starting together). Every
read-modify-write holds ``locked(folder)`` exclusively and re-reads the latest state under it before changing
anything (``CatalogIndex._writing``), and a load holds it shared, so a save never deletes the vectors file that
another process is about to read, and no writer's change is lost to another's.

The lock is ``flock`` rather than ``filelock`` (measured, ``benchmarks/library_choices.py``): a hold costs about
45 µs against 335 µs for filelock's shared/exclusive ``ReadWriteLock`` (SQLite, and it needs write access where
a reader of a read-only image needs none) and 180 µs for its exclusive-only ``FileLock`` (readers would wait
for each other).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finadvisor.errors import ConfigError
from finadvisor.fsutil import atomic_temp_path, atomic_write

FORMAT = "finadvisor-catalog-index"
FORMAT_VERSION = 1
META = "meta.json"
LOCK = ".lock"

log = logging.getLogger(__name__)


_held = threading.local()  # per thread: lock path -> [exclusive?, depth]


@contextlib.contextmanager
def locked(index_dir: Path, *, exclusive: bool = True) -> Iterator[bool]:
    """Hold the folder's ``flock`` (other processes, and other threads, wait). Re-entrant within a thread: the
    value is True for the outermost hold, which is where a writer re-reads the latest state. A folder where the
    lock file can be neither created nor opened (a read-only image) is read without a lock; writing it would
    fail anyway."""
    index_dir = Path(index_dir)
    key = str(index_dir.resolve())
    holds: dict[str, list[Any]] = _held.__dict__.setdefault("holds", {})
    if key in holds:
        if exclusive and not holds[key][0]:
            raise RuntimeError(f"{index_dir}: an exclusive lock was asked for while holding a shared one")
        holds[key][1] += 1
        try:
            yield False
        finally:
            holds[key][1] -= 1
        return
    if exclusive:
        index_dir.mkdir(parents=True, exist_ok=True)
    # A reader creates the lock file only in a folder that holds an index, never in any folder it was pointed at.
    fd = _open_lock_file(index_dir / LOCK, create=exclusive or (index_dir / META).is_file())
    holds[key] = [exclusive, 1]
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield True
    finally:
        del holds[key]
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock


def _open_lock_file(path: Path, create: bool) -> int | None:
    if create:
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            pass
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # flock needs no write access
    except OSError as exc:
        log.debug("reading %s without a lock: %s", path.parent, exc)
        return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def meta_digest(index_dir: Path) -> str | None:
    """The sha256 of ``meta.json`` as it is now (None without one): tells a writer whether another process
    saved since it last loaded or saved the folder."""
    try:
        return _digest((Path(index_dir) / META).read_bytes())
    except FileNotFoundError:
        return None


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with: finadvisor catalog build CATALOG.json --index {index_dir}"


def save(index_dir: Path, meta: dict[str, Any], faiss_index: Any) -> str:
    """Write the pair (the caller holds ``locked(index_dir)``); returns the new ``meta.json``'s digest."""
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    vectors_name = f"vectors-{meta['version']}.faiss"
    # A unique temporary name (fsutil's), so writers of one folder never write into the same file; on any
    # failure (disk full) it is removed and the previous pair is left exactly as it was.
    with atomic_temp_path(index_dir / vectors_name) as tmp:
        faiss.write_index(faiss_index, str(tmp))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta, "vectors_file": vectors_name}
    data = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    atomic_write(index_dir / META, data)
    for stale in index_dir.glob("vectors-*.faiss"):
        if stale.name != vectors_name:
            stale.unlink(missing_ok=True)
    return _digest(data)


def exists(index_dir: Path) -> bool:
    return (Path(index_dir) / META).is_file()


def load(index_dir: Path) -> tuple[dict[str, Any], Any, str]:
    """Read and sanity-check the folder: (meta, faiss index, digest of ``meta.json``). Every problem is a
    ConfigError that says how to fix it. Hold ``locked(index_dir, exclusive=False)`` around it."""
    import faiss

    index_dir = Path(index_dir)
    meta_path = index_dir / META
    if not meta_path.is_file():
        raise ConfigError(f"{index_dir} is not a catalog index (no {META}); {rebuild_hint(index_dir)}")
    try:
        raw = meta_path.read_bytes()
        meta = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"catalog index {index_dir} is corrupt ({META} unreadable: {exc}); {rebuild_hint(index_dir)}"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigError(f"{meta_path} is not a finadvisor catalog index file; {rebuild_hint(index_dir)}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ConfigError(
            f"catalog index {index_dir} has format version {meta.get('format_version')}, this "
            f"finadvisor reads version {FORMAT_VERSION}; {rebuild_hint(index_dir)}"
        )
    for key, kind in (
        ("embedder", dict),
        ("services", list),
        ("version", str),
        ("vectors_file", str),
        ("next_fid", int),
        ("kind", str),
    ):
        if not isinstance(meta.get(key), kind):
            raise ConfigError(
                f"catalog index {index_dir} is corrupt ({META} field {key!r} is missing or invalid); "
                f"{rebuild_hint(index_dir)}"
            )
    vectors = index_dir / Path(meta["vectors_file"]).name  # never follow a path out of the folder
    if not vectors.is_file():
        raise ConfigError(
            f"catalog index {index_dir} is incomplete ({vectors.name} is missing); {rebuild_hint(index_dir)}"
        )
    try:
        faiss_index = faiss.read_index(str(vectors))
    except Exception as exc:  # faiss raises RuntimeError with a C++ message for truncated or garbled files
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"catalog index {index_dir} is corrupt ({vectors.name} cannot be read: {first}); "
            f"{rebuild_hint(index_dir)}"
        ) from None
    return meta, faiss_index, _digest(raw)


QUERIES = "queries.npz"


def save_queries(index_dir: Path, embedder_name: str, texts: list[str], vectors: Any) -> None:
    """Persist embedded query texts (category names) next to the index: a cache, so a restart starts warm."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez(
        buf,
        embedder=np.array(embedder_name),
        texts=np.array(texts, dtype=str),
        vectors=np.asarray(vectors, dtype=np.float32),
    )
    atomic_write(Path(index_dir) / QUERIES, buf.getvalue())


def load_queries(index_dir: Path, embedder_name: str, dim: int) -> tuple[list[str], Any]:
    """The saved query cache, or nothing when it is missing, unreadable or from another embedder (it is only a
    cache: a problem here costs some embedding time, never an error). Loaded without pickle."""
    import numpy as np

    path = Path(index_dir) / QUERIES
    empty: tuple[list[str], Any] = ([], np.zeros((0, dim), np.float32))
    if not path.is_file():
        return empty
    try:
        # Our own handle: numpy leaks the file it opened when the zip is truncated.
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            name, texts, vectors = str(data["embedder"]), [str(t) for t in data["texts"]], data["vectors"]
    except Exception as exc:  # truncated zip, missing key, object arrays refused without pickle
        log.warning("ignoring the query cache %s: %s", path, exc)
        return empty
    if name != embedder_name or vectors.shape != (len(texts), dim):
        log.info("ignoring the query cache %s: it belongs to embedder %r", path, name)
        return empty
    return texts, np.ascontiguousarray(vectors, dtype=np.float32)
