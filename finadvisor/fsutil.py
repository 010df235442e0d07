"""One way to write a file so that a reader never sees half of it: :func:`atomic_write` / :func:`atomic_open`.

    atomic_write(path, text)                       # str or bytes
    with atomic_open(path, "w") as f: ...          # streaming writers (JSONL, GGUF, FAISS ...)

A temporary file in the target's own folder is written, flushed and fsync'd, renamed over the target, and the
folder is fsync'd so the rename survives a crash. On any failure the temporary file is removed and the target is
left as it was. Files get ``mode`` (default 0o644, like any file a user writes), never the 0o600 of a bare
``mkstemp``; pass ``mode=0o600`` for secrets.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

DEFAULT_MODE = 0o644


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    file_mode: int = DEFAULT_MODE,
    encoding: str | None = "utf-8",
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on a clean exit it replaces ``path`` atomically."""
    if mode not in ("w", "wb"):
        raise ValueError("atomic_open writes a whole new file: mode must be 'w' or 'wb'")
    with (
        _temp_path(Path(path), file_mode) as tmp,
        open(tmp, mode, encoding=None if "b" in mode else encoding) as handle,
    ):
        yield handle
        handle.flush()


def atomic_temp_path(path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[Path]:
    """For libraries that insist on writing to a path themselves (FAISS, safetensors): yields a temporary path
    next to ``path``; on a clean exit it is fsync'd and renamed over ``path``."""
    return _temp_path(Path(path))


@contextlib.contextmanager
def _temp_path(target: Path, file_mode: int = DEFAULT_MODE) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, file_mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write(path: str | os.PathLike[str], data: str | bytes, *, file_mode: int = DEFAULT_MODE) -> None:
    """Replace ``path`` with ``data`` atomically (see the module docstring)."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w", file_mode=file_mode) as handle:
        handle.write(data)
