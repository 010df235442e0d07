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
at most once, and a user counts as done only once its whole line (newline included) is on disk. One run at a
time: the run holds an exclusive lock on ``<out>.lock`` (``filelock``, an ``flock`` the kernel drops when the
process dies) from :meth:`ResultLog.open` to :meth:`ResultLog.close`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

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


def _walk(path: Path, state: Resume) -> Iterator[bytes]:
    """The lines to keep (ok records, first per user), one at a time, while ``state`` counts what is dropped."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                state.torn = True  # the last write was cut by a kill: that user was never done
                break
            try:
                record = json.loads(raw)
                user, status = record["user"], record["status"]
                if not isinstance(user, str):
                    raise TypeError("user is not a string")
            except (ValueError, TypeError, KeyError, RecursionError):  # junk, huge ints, deep nesting
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
            yield raw


def scan(path: Path) -> Resume:
    """What an existing output file holds. Only the done users' ids stay in memory, never their lines: a
    million-user file is a set of ids, not 1-2 GB of records."""
    state = Resume()
    for _ in _walk(path, state):
        pass
    return state


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class ResultLog:
    """The output of one run. :meth:`open` takes an exclusive lock on ``<out>.lock`` for the whole run (released
    by :meth:`close`, or by the kernel when the process dies, kill -9 included): a second run on the same file
    fails at once instead of rewriting it under the first, which would lose the first run's records."""

    def __init__(self, path: Path, *, for_time: str, force: bool = False) -> None:
        self.path = Path(path)
        self.for_time = for_time
        self.force = force
        self._fd: int | None = None
        self._lock: FileLock | None = None
        self.resume = Resume()

    def _take_lock(self) -> None:
        lock = FileLock(lock_path(self.path), thread_local=False)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            raise ConfigError(
                f"another finadvisor batch is writing {self.path} (it holds "
                f"{lock_path(self.path)}); wait for it to finish, or pass another --out"
            ) from None
        self._lock = lock

    def open(self) -> set[str]:
        """Prepare the file for appending; returns the users a previous run already finished."""
        if self.path.is_dir():
            raise ConfigError(f"--out {self.path} is a folder; pass a file name such as results.jsonl")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            return self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> set[str]:
        if self.force:
            self.resume = Resume()
            rewrite = self.path.exists()
        else:
            self.resume = scan(self.path)
            other = self.resume.for_times - {self.for_time}
            if other:
                raise ConfigError(
                    f"{self.path} holds results for {', '.join(sorted(other))}, but this run is for "
                    f"{self.for_time}: pass --for-time {sorted(other)[0]} to resume that run, or --force "
                    "(or another --out) to start a new one"
                )
            state = self.resume
            rewrite = state.torn or state.retried > 0 or state.dropped_junk > 0
            if state.torn:
                log.warning("%s: dropped a torn last line (a killed run); that user is done again", self.path)
        if rewrite:
            with atomic_open(self.path, "wb") as fh:
                if not self.force:  # a second pass streams the kept lines: they are never all in memory
                    for line in _walk(self.path, Resume()):
                        fh.write(line)
        new_file = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if new_file:
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
        if self._lock is not None:
            self._lock.release()
            self._lock = None

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
