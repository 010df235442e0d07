"""A readers-writer lock for the in-memory index: many searches at once, one add/remove at a time.

Searches only read the faiss index and the service maps, so they can run together; a change swaps those
structures and must run alone. Writer-preferring: once a writer waits, new readers queue behind it, so a steady
stream of fast searches cannot starve an add or remove forever. Within one process only; writers in other
processes are kept apart by the index folder's file lock (``store.locked``).

    lock = RWLock()
    with lock.read(): ...     # search
    with lock.write(): ...    # add / remove / reload
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class RWLock:
    """Not re-entrant: a thread holding ``write()`` must not ask for ``read()`` or ``write()`` again."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
