"""Whether the data directory can be written, for `/healthz`: a small probe write, its answer kept
for a second so that probes cost no disk work per request (and never an fsync).

Imports nothing of ours; no Flask.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

__all__ = ["DataDirProbe"]

PROBE_DIR = ".app"  # the probe file lives beside the app's own state, never among conversations


class DataDirProbe:
    """Answers `writable()` from a probe write at most once per `ttl` seconds per process."""

    def __init__(self, data_dir: Path, *, ttl: float = 1.0) -> None:
        self.data_dir = data_dir
        self.ttl = ttl
        self._checked_at = -float("inf")
        self._writable = True
        self._lock = threading.Lock()

    def _probe(self) -> bool:
        folder = self.data_dir / PROBE_DIR
        path = folder / f".healthz-{os.getpid()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"ok\n")
            finally:
                os.close(fd)
            os.unlink(path)
        except OSError:
            return False
        return True

    def writable(self) -> bool:
        """True when a file could be written in the data directory (within the last `ttl` s)."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at >= self.ttl:
                self._writable = self._probe()
                self._checked_at = now
            return self._writable
