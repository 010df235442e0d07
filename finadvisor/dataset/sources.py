"""Where pairs come from: documents (local files or fetched URLs), the Source protocol and its registry.

A Source turns one Document into a stream of QAItems and counts what it had to skip. Built-in sources register in
``SOURCES`` exactly as a later one would::

    SOURCES["mysite"] = MySiteSource()      # any object with .name and .parse(doc, skips)

``iter_documents`` expands the user's arguments (files, folders, http(s) URLs) into Documents, lazily.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

# Document lives in its own module so the sources (html_faq, jsonl_source, nextjs) import it without importing
# this registry, which imports them: no module cycle. Re-exported here for callers.
from finadvisor.dataset.document import Document as Document
from finadvisor.dataset.fetch import Fetcher
from finadvisor.dataset.items import QAItem, Skips
from finadvisor.errors import ConfigError

DATA_SUFFIXES = {".json": "nextjs", ".jsonl": "jsonl", ".ndjson": "jsonl", ".html": "html", ".htm": "html"}
# Our own side files, which may sit next to an output that lives inside an input folder.
SIDECAR_SUFFIXES = (".report.json", ".state.json")


class Source(Protocol):
    name: str

    def parse(self, doc: Document, skips: Skips) -> Iterator[QAItem]:
        """Yield the pairs found in ``doc``; count anything skipped in ``skips`` under a short reason."""
        ...


def _registry() -> dict[str, Source]:
    from finadvisor.dataset.html_faq import HtmlFaqSource
    from finadvisor.dataset.jsonl_source import JsonlSource
    from finadvisor.dataset.nextjs import NextJsSource

    return {"nextjs": NextJsSource(), "html": HtmlFaqSource(), "jsonl": JsonlSource()}


SOURCES: dict[str, Source] = _registry()


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise ConfigError(
            f"unknown source type {name!r}; choose one of auto, {', '.join(SOURCES)}", param="--source-type"
        ) from None


def detect_type(doc: Document) -> str:
    """Guess the source type from the extension, the content type, then the first bytes."""
    if doc.path is not None and doc.path.suffix.lower() in DATA_SUFFIXES:
        guess = DATA_SUFFIXES[doc.path.suffix.lower()]
        if guess != "nextjs":
            return guess
    content_type = doc.content_type.lower()
    if "html" in content_type:
        return "html"
    head = doc.head().lstrip()
    if head.startswith("<"):
        return "html"
    if head.startswith("{"):
        first_line = head.split("\n", 1)[0]
        try:
            first = json.loads(first_line)
        except (ValueError, RecursionError):  # bad JSON, huge integers, deep nesting: the parser decides
            return "nextjs"  # a pretty-printed single JSON document
        if (
            isinstance(first, dict)
            and ("pageProps" not in first)
            and ({"instruction", "question", "messages"} & first.keys())
        ):
            return "jsonl"
        return "nextjs"
    raise ConfigError(
        f"cannot tell the type of source {doc.origin} (not HTML, JSON Lines or Next.js data JSON); "
        "pass --source-type nextjs|html|jsonl"
    )


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def local_files(specs: Iterable[str], skips: Skips | None = None) -> Iterator[tuple[str, Path]]:
    """(origin, path) for every local input file; folders expand to their data files, sorted."""
    for spec in specs:
        if is_url(spec):
            continue
        path = Path(spec)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts) or child.name.endswith(SIDECAR_SUFFIXES):
                    continue
                if child.suffix.lower() not in DATA_SUFFIXES:
                    if skips is not None:
                        skips["ignored_file"] += 1
                    continue
                yield str(child), child
        elif path.is_file():
            yield spec, path
        elif "://" in spec:
            raise ConfigError(
                f"unsupported source URL {spec}; only http:// and https:// are fetched", param="SOURCES"
            )
        else:
            raise ConfigError(f"cannot read source {spec}: no such file or folder", param="SOURCES")


def iter_documents(
    specs: Iterable[str], fetcher: Fetcher | None = None, skips: Skips | None = None
) -> Iterator[Document]:
    for spec in specs:
        if is_url(spec):
            if fetcher is None:
                raise ConfigError(f"source {spec} is a URL but no fetcher was given")
            page = fetcher.get(spec)
            yield Document(origin=spec, body=page.text, content_type=page.content_type)
        else:
            for origin, path in local_files([spec], skips):
                yield Document(origin=origin, path=path)
