"""The per-user lock of the JSON backend: a file lock per user directory, its objects cached boundedly.

Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from ..atomic_files import storage_error
from ..errors import StorageBusy

# Idle lock objects kept for reuse; one in use is never dropped, however many there are.
LOCK_CACHE_SIZE = 256


@dataclass
class _Entry:
    lock: FileLock
    users: int = 0  # threads inside `held` with this object: waiting for it or holding it
    # Threads of this process queue here first, woken the moment the holder is done; only one
    # at a time then polls the file lock, which other processes may hold (10 ms polls).
    local: threading.RLock = field(default_factory=threading.RLock)


class LockCache:
    """Hand out one FileLock object per lock file while any thread uses it; keep `size` idle ones.

    Threads exclude each other through one shared object (the default `thread_local=True` gives each
    thread its own descriptor, and flock excludes descriptors). A second object for a path in use
    would be a second, unrelated hold in one thread, so an entry is dropped only when no thread is
    inside `held` with it. `FileLock.is_locked` cannot tell that: it answers for the calling thread.
    """

    def __init__(self, timeout: float, *, size: int = LOCK_CACHE_SIZE) -> None:
        self.timeout = timeout
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._guard = threading.Lock()

    def __len__(self) -> int:
        with self._guard:
            return len(self._entries)

    @contextlib.contextmanager
    def held(self, path: Path) -> Iterator[None]:
        """Hold the lock file `path`; StorageBusy when not had within `timeout` seconds."""
        entry = self._checkout(str(path))
        busy = StorageBusy(retry_after=max(1, round(self.timeout)))
        try:
            deadline = time.monotonic() + self.timeout
            if not entry.local.acquire(timeout=max(0.0, self.timeout)):
                raise busy
            try:
                try:
                    entry.lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
                except Timeout as exc:
                    raise busy from exc
                except OSError as exc:
                    raise storage_error(exc, "locking") from exc
                try:
                    yield
                finally:
                    entry.lock.release()
            finally:
                entry.local.release()
        finally:
            self._checkin(entry)

    def _checkout(self, key: str) -> _Entry:
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = _Entry(FileLock(key, timeout=self.timeout, poll_interval=0.01))
                self._entries[key] = entry
            else:
                self._entries.move_to_end(key)
            entry.users += 1
            return entry

    def _checkin(self, entry: _Entry) -> None:
        with self._guard:
            entry.users -= 1
            excess = len(self._entries) - self.size
            if excess <= 0:
                return
            idle = [key for key, e in self._entries.items() if e.users == 0]  # oldest first
            for key in idle[:excess]:
                del self._entries[key]
