"""The batch's output file: one JSON line per user, so a crash loses at most the users in flight.

    log = ResultLog(Path("out.jsonl"), for_time="2026-12-03T08:00:00", force=False)
    done = log.open()               # users already done (skipped by this run)
    log.append({"user": "an", "status": "ok", ...})
    log.close()

Why not ``atomic_write`` per record: rewriting a file per user is O(n²). Instead each record is ONE ``os.write`` of
a whole line to an ``O_APPEND`` descriptor, then ``fsync``: a kill can at worst leave the last line torn (no
newline), and :meth:`ResultLog.open` drops such a line before anything else is appended. When opening drops
lines (a torn tail, failed users that this run retries, duplicates, junk), the kept lines are rewritten through
:func:`~finadvisor.fsutil.atomic_open`, so the file is never half-rewritten either. Invariant: each user appears
at most once, and a user counts as done only once its whole line (newline included) is on disk.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finadvisor.errors import ConfigError
from finadvisor.fsutil import atomic_open, fsync_dir

log = logging.getLogger("finadvisor.batch")


@dataclass
class Resume:
    """What a previous run left in the output file."""

    done: set[str] = field(default_factory=set)
    retried: int = 0  # failed users dropped from the file, to be tried again
    torn: bool = False
    dropped_junk: int = 0
    for_times: set[str] = field(default_factory=set)


def scan(path: Path) -> tuple[list[bytes], Resume]:
    """Read an existing output file: the lines to keep (ok records, first per user) and what was dropped."""
    state = Resume()
    keep: list[bytes] = []
    if not path.exists():
        return keep, state
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                state.torn = True  # the last write was cut by a kill: that user was never done
                break
            try:
                record = json.loads(raw)
                user, status = record["user"], record["status"]
            except (ValueError, TypeError, KeyError):
                state.dropped_junk += bool(raw.strip())
                continue
            if status != "ok":
                state.retried += 1
                continue
            if user in state.done:
                state.dropped_junk += 1
                continue
            state.done.add(user)
            if isinstance(record.get("for_time"), str):
                state.for_times.add(record["for_time"])
            keep.append(raw)
    return keep, state


class ResultLog:
    def __init__(self, path: Path, *, for_time: str, force: bool = False) -> None:
        self.path = Path(path)
        self.for_time = for_time
        self.force = force
        self._fd: int | None = None
        self.resume = Resume()

    def open(self) -> set[str]:
        """Prepare the file for appending; returns the users a previous run already finished."""
        if self.path.is_dir():
            raise ConfigError(f"--out {self.path} is a folder; pass a file name such as results.jsonl")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.force:
            keep: list[bytes] = []
            self.resume = Resume()
            rewrite = self.path.exists()
        else:
            keep, self.resume = scan(self.path)
            other = self.resume.for_times - {self.for_time}
            if other:
                raise ConfigError(
                    f"{self.path} holds results for {', '.join(sorted(other))}, but this run is for "
                    f"{self.for_time}: pass --for-time {sorted(other)[0]} to resume that run, or --force "
                    "(or another --out) to start a new one")
            state = self.resume
            rewrite = state.torn or state.retried > 0 or state.dropped_junk > 0
            if state.torn:
                log.warning("%s: dropped a torn last line (a killed run); that user is done again", self.path)
        if rewrite:
            with atomic_open(self.path, "wb") as fh:
                for line in keep:
                    fh.write(line)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if not keep and not rewrite:
            fsync_dir(self.path.parent)  # a new file: make its directory entry durable too
        return set(self.resume.done)

    def append(self, record: dict[str, Any]) -> None:
        """One whole line, one write, then fsync: a crash after this returns cannot lose the record."""
        if self._fd is None:
            raise RuntimeError("ResultLog.open() first")
        data = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:  # os.write on a regular file writes it all; the loop covers a short write anyway
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ResultLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every whole record in an output file (for tests, reports and downstream jobs)."""
    records = []
    with Path(path).open("rb") as fh:
        for raw in fh:
            if raw.endswith(b"\n") and raw.strip():
                records.append(json.loads(raw))
    return records
