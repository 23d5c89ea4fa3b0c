"""The app's own small JSON state files under `CHAT_DATA_DIR/.app/` (auth, limits, shares).

Atomic writes and directory fsyncs are the conversation store's (`conversation_manager.atomic_files`);
this adds what those callers need on top: JSON encoding, a link(2)-based exclusive publish, a plain
read and a sidecar file lock. Must not import Flask.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

from conversation_manager.atomic_files import fsync_dir, write_atomic

__all__ = [
    "app_dir",
    "create_exclusive",
    "fsync_dir",
    "locked",
    "read_json",
    "write_json_atomic",
]


def app_dir(data_dir: str | os.PathLike[str], *parts: str) -> Path:
    """Return (and create) `data_dir/.app/<parts>`; parts are constants here, never input."""
    path = Path(data_dir, ".app", *parts)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_json_atomic(path: Path, obj: Any, *, durable: bool = True) -> None:
    """Write JSON to `path` atomically (temp file in the same dir, fsync, replace, fsync dir)."""
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    write_atomic(path, data, durable=durable)


def _write_temp(directory: Path, name: str, data: bytes, durable: bool) -> str:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def create_exclusive(path: Path, data: bytes, *, durable: bool = True) -> bool:
    """Publish a complete file at `path` only if none exists; return False when one already did.

    The content is written to a temp file first and published with link(2), which fails when the
    name exists, so no reader ever sees a half-written file and exactly one racer wins, with no lock.
    """
    tmp = _write_temp(path.parent, path.name, data, durable)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    if durable:
        fsync_dir(path.parent)
    return True


def read_json(path: Path) -> Any | None:
    """Return the parsed JSON at `path`, or None when the file does not exist."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None


_locks: dict[str, filelock.FileLock] = {}
_locks_guard = threading.Lock()


@contextlib.contextmanager
def locked(path: Path, timeout: float, busy: type[Exception]) -> Iterator[None]:
    """Hold the sidecar lock `<path>.lock` (one thread-local FileLock object per path)."""
    key = f"{path}.lock"
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = filelock.FileLock(key)
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout:
        raise busy() from None
    try:
        yield
    finally:
        lock.release()
