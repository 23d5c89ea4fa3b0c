"""The per-user lock of the JSON backend: a file lock per user directory, its objects cached boundedly.

Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic_files import storage_error
from ..errors import StorageBusy

# Idle lock objects kept for reuse; one in use is never dropped, however many there are.
LOCK_CACHE_SIZE = 256
POLL_SECONDS = 0.01  # how often a lock another process holds is tried again
OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class Timeout(Exception):
    """The lock file was not had within the timeout."""


class FileLock:
    """An exclusive `flock` on a lock file, tried every 10 ms until a timeout; re-entrant in the
    thread that holds it (the caller lets one thread at a time in). The kernel drops it when the
    process dies. 1.4 µs to take and give back where the `filelock` package took 80 µs, and a turn
    takes a user's lock several times."""

    def __init__(self, path: str, *, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._depth = 0

    def acquire(self, timeout: float | None = None) -> None:
        """Take the lock; `Timeout` when not had within `timeout` (default: the lock's)."""
        if self._fd is not None:
            self._depth += 1
            return
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        fd = os.open(self.path, OPEN_FLAGS, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout(self.path)
                time.sleep(min(POLL_SECONDS, left))
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._depth = fd, 1

    def release(self) -> None:
        """Give the lock back (the outermost release of a re-entered lock frees it)."""
        if self._fd is None:
            return
        self._depth -= 1
        if self._depth > 0:
            return
        fd, self._fd = self._fd, None
        os.close(fd)  # closing the only descriptor drops the flock


@dataclass
class _Entry:
    lock: FileLock
    users: int = 0  # threads inside `held` with this object: waiting for it or holding it
    # Threads of this process queue here first, woken the moment the holder is done; only one
    # at a time then polls the file lock, which other processes may hold (10 ms polls).
    local: threading.RLock = field(default_factory=threading.RLock)


class LockCache:
    """Hand out one FileLock object per lock file while any thread uses it; keep `size` idle ones.

    Threads of this process exclude each other through the entry's own thread lock, then take the
    file's flock (other processes). A second object for a path in use would be a second, unrelated
    hold, so an entry is dropped only when no thread is inside `held` with it.
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
        try:
            deadline = time.monotonic() + self.timeout
            if not entry.local.acquire(timeout=max(0.0, self.timeout)):
                raise self._busy()
            try:
                try:
                    entry.lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
                except Timeout as exc:
                    raise self._busy() from exc
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

    def _busy(self) -> StorageBusy:
        return StorageBusy(retry_after=max(1, round(self.timeout)))

    def _checkout(self, key: str) -> _Entry:
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = _Entry(FileLock(key, timeout=self.timeout))
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
