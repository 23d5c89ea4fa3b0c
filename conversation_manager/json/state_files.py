"""The JSON backend's small state files under `CHAT_DATA_DIR/.app/` (accounts, sessions, shares, limits).

Atomic writes and directory fsyncs are the conversation store's (`conversation_manager.atomic_files`);
this adds what the record stores need on top: JSON encoding, a link(2)-based exclusive publish, a
plain read, a sidecar file lock whose lock objects live only while in use, and the translation of
OS errors into the store's errors. Imports neither Flask nor an SDK, and nothing of `app`.
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

from ..atomic_files import fsync_dir, storage_error, write_atomic
from ..errors import StorageBusy
from .locks import LockCache

__all__ = [
    "app_dir",
    "create_exclusive",
    "fsync_dir",
    "live_lock_objects",
    "locked",
    "os_errors",
    "read_json",
    "write_json_atomic",
]


def app_dir(data_dir: str | os.PathLike[str], *parts: str) -> Path:
    """Return (and create) `data_dir/.app/<parts>`; parts are constants here, never input."""
    path = Path(data_dir, ".app", *parts)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


@contextlib.contextmanager
def os_errors(action: str) -> Iterator[None]:
    """Turn an OSError met while doing `action` into `StorageFull` (disk full) or `StorageError`."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, action) from exc


def write_json_atomic(path: Path, obj: Any, *, durable: bool = True) -> None:
    """Write JSON to `path` atomically (temp file in the same dir, fsync, replace, fsync dir)."""
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    write_atomic(path, data, durable=durable)


def _write_temp(directory: Path, name: str, data: bytes, durable: bool) -> str:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def create_exclusive(path: Path, data: bytes, *, durable: bool = True) -> bool:
    """Publish a complete file at `path` only if none exists; return False when one already did.

    The content is written to a temp file first and published with link(2), which fails when the
    name exists, so no reader ever sees a half-written file and exactly one racer wins, with no lock.
    If making the new name durable fails, the file is taken back out before the error goes up, so
    a failed create never leaves the file behind.
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
        try:
            fsync_dir(path.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
    return True


def read_json(path: Path) -> Any | None:
    """Return the parsed JSON at `path`, or None when the file does not exist."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None


# One lock-object cache per lock timeout (there are a few timeouts, so a few caches): the same
# bounded `LockCache` the conversation store uses, which keeps one lock object per path while any
# thread uses it and drops idle ones beyond its bound, so the objects do not grow with every path
# ever locked.
_caches: dict[float, LockCache] = {}
_caches_guard = threading.Lock()


def _cache(timeout: float) -> LockCache:
    with _caches_guard:
        cache = _caches.get(timeout)
        if cache is None:
            cache = _caches[timeout] = LockCache(timeout)
        return cache


def live_lock_objects() -> int:
    """Return how many lock objects the state files keep now (bounded, whatever was locked)."""
    with _caches_guard:
        caches = list(_caches.values())
    return sum(len(c) for c in caches)


@contextlib.contextmanager
def locked(path: Path, timeout: float, busy: type[Exception] = StorageBusy) -> Iterator[None]:
    """Hold the sidecar lock `<path>.lock` across threads and processes; raise `busy` on timeout."""
    try:
        with _cache(timeout).held(Path(f"{path}.lock")):
            yield
    except StorageBusy as exc:
        if busy is StorageBusy or isinstance(exc, busy):
            raise
        raise busy() from exc
