"""One input of the dataset builder: a local file (read lazily) or a fetched page (already in memory).

Its own module so that the sources that parse it (``html_faq``, ``jsonl_source``, ``nextjs``) and the registry
that lists them (``sources.py``) do not import each other.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from finadvisor.errors import ConfigError


@dataclass
class Document:
    """One input: a local file (read lazily) or a fetched page (already in memory)."""

    origin: str
    path: Path | None = None
    body: str | None = None
    content_type: str = ""

    def read(self) -> str:
        if self.body is not None:
            return self.body
        assert self.path is not None
        try:
            return self.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read source {self.origin}: {_why(exc)}") from exc

    def lines(self) -> Iterator[str]:
        """Lines, streamed from disk for files."""
        if self.body is not None:
            yield from io.StringIO(self.body)
            return
        assert self.path is not None
        try:
            with self.path.open(encoding="utf-8-sig") as handle:
                yield from handle
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read source {self.origin}: {_why(exc)}") from exc

    def head(self, n: int = 4096) -> str:
        if self.body is not None:
            return self.body[:n]
        assert self.path is not None
        try:
            with self.path.open(encoding="utf-8-sig") as handle:
                return handle.read(n)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read source {self.origin}: {_why(exc)}") from exc


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror.lower()}; check the path and its permissions"
    return str(exc)
