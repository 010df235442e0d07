"""``dataset build``: sources -> clean -> ChatML JSONL (+ eval split) + report, in one streaming pass.

    finadvisor dataset build finadvisor/data/faq_demo --out data/train.jsonl --eval-out data/eval.jsonl

Nothing is held in memory but the deduplicator's fingerprints; outputs appear atomically at the end, and an
output path that is also an input is refused before anything is read.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from finadvisor.dataset.chatml import (
    DEFAULT_SYSTEM_PROMPT,
    AtomicWriter,
    dumps,
    is_eval,
    to_chatml,
    write_json_atomic,
)
from finadvisor.dataset.clean import CleanConfig, Cleaner
from finadvisor.dataset.fetch import Fetcher
from finadvisor.dataset.items import QAItem
from finadvisor.dataset.report import BuildReport, report_path
from finadvisor.dataset.sources import Document, detect_type, get_source, is_url, iter_documents, local_files
from finadvisor.errors import ConfigError, FinadvisorError


def guard_outputs(sources: Sequence[str], outputs: Sequence[Path]) -> None:
    """Refuse an output that is an input file (or the same file under another name), or two equal outputs."""
    resolved = [p.resolve() for p in outputs]
    if len(set(resolved)) != len(resolved):
        raise ConfigError(
            "--out and --eval-out are the same file; give them different names", param="--eval-out"
        )
    inputs = [path.resolve() for _, path in local_files(sources)]
    for out, res in zip(outputs, resolved, strict=True):
        for path in inputs:
            if res == path or (out.exists() and os.path.samefile(out, path)):
                raise ConfigError(
                    f"refusing to overwrite input file {path}; choose another output path", param="--out"
                )


def stream_items(
    sources: Sequence[str], report: BuildReport, *, source_type: str = "auto", fetcher: Fetcher | None = None
) -> Iterator[QAItem]:
    """Every document's items. A document that breaks its parser in a way the parser did not foresee (a
    RecursionError, a >4,300-digit integer, a library error) is skipped and counted under
    ``<type>:document_failed``, never the build's end; the project's own errors (a bad flag, an invalid JSON
    line the user must fix) still stop it."""
    forced = None if source_type == "auto" else get_source(source_type)
    doc: Document
    for doc in iter_documents(sources, fetcher, report.skipped):
        parser = forced or get_source(detect_type(doc))
        try:
            yield from parser.parse(doc, report.skipped)
        except FinadvisorError:
            raise
        except Exception:
            report.skipped[f"{parser.name}:document_failed"] += 1


def build_dataset(
    sources: Sequence[str],
    out: Path,
    *,
    eval_out: Path | None = None,
    eval_ratio: float = 0.1,
    seed: int = 0,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    source_type: str = "auto",
    clean: CleanConfig | None = None,
    fetcher: Fetcher | None = None,
    progress: bool = False,
    write_report: bool = True,
) -> BuildReport:
    if not sources:
        raise ConfigError("no sources given; pass files, folders or http(s) URLs", param="SOURCES")
    if not 0.0 <= eval_ratio < 1.0:
        raise ConfigError(f"--eval-ratio must be in [0, 1), got {eval_ratio}", param="--eval-ratio")
    if source_type != "auto":
        get_source(source_type)
    outputs = [out] + ([eval_out] if eval_out is not None else [])
    guard_outputs(sources, outputs + ([report_path(out)] if write_report else []))
    own_fetcher = fetcher is None and any(is_url(s) for s in sources)
    if own_fetcher:
        fetcher = Fetcher()
    report = BuildReport()
    cleaner = Cleaner(clean)
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            train_w = stack.enter_context(AtomicWriter(out))
            eval_w = stack.enter_context(AtomicWriter(eval_out)) if eval_out is not None else None
            bar = stack.enter_context(_progress(progress))
            for item in stream_items(sources, report, source_type=source_type, fetcher=fetcher):
                report.items_in += 1
                report.count_source(item.source, "in")
                result = cleaner.clean(item)
                if isinstance(result, str):
                    report.dropped[result] += 1
                else:
                    report.kept += 1
                    report.count_source(item.source, "kept")
                    line = dumps(to_chatml(result, system_prompt))
                    if eval_w is not None and is_eval(result.question, seed, eval_ratio):
                        eval_w.write(line)
                        report.eval += 1
                    else:
                        train_w.write(line)
                        report.train += 1
                if bar is not None and report.items_in % 1000 == 0:
                    bar.update(report.items_in, report.kept)
    finally:
        if own_fetcher and fetcher is not None:
            fetcher.close()
    report.elapsed_s = time.perf_counter() - started
    report.outputs["train" if eval_out is not None else "out"] = str(out)
    if eval_out is not None:
        report.outputs["eval"] = str(eval_out)
    if write_report:
        report.outputs["report"] = str(report_path(out))
        write_json_atomic(report_path(out), report.to_dict())
    return report


class _Bar:
    def __init__(self) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
        )
        self._task = self._progress.add_task("reading sources")

    def update(self, seen: int, kept: int) -> None:
        self._progress.update(self._task, description=f"{seen} items read, {kept} kept")

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _progress(enabled: bool) -> contextlib.AbstractContextManager[_Bar | None]:
    return _Bar() if enabled else contextlib.nullcontext()
