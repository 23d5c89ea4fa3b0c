"""Crash-safe file primitives: atomic replace with fsync and rollback, and careful reads.

Nothing here follows a symlink. Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile
from pathlib import Path

from .errors import StorageError, StorageFull

# Every temporary file made here has this in its name, so a sweep can tell them from real files.
TMP_MARK = ".tmp-"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# A file that cannot be read for these reasons is damaged or foreign, not a transient I/O failure.
_DAMAGE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ELOOP, errno.EISDIR, errno.ENXIO})


class Missing(Exception):
    """The file does not exist."""


class Damaged(Exception):
    """The file exists but cannot be used (unreadable, wrong type, not parseable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def storage_error(exc: OSError, action: str) -> StorageError | StorageFull:
    """Return the store error for an OSError met while doing `action`."""
    if exc.errno in _FULL_ERRNOS:
        return StorageFull(f"disk full while {action}")
    return StorageError(f"storage error while {action} (errno {exc.errno})")


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dir(path: Path, *, durable: bool) -> None:
    """Create `path` (mode 0700) if missing and make its entry durable; refuse a symlink."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise StorageError("expected a directory") from None
        return
    if durable:
        fsync_dir(path.parent)


def read_file(path: Path) -> tuple[bytes, os.stat_result]:
    """Read a regular file without following symlinks; raise Missing, Damaged or OSError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC)
    except FileNotFoundError:
        raise Missing() from None
    except OSError as exc:
        if exc.errno in _DAMAGE_ERRNOS:
            code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
            raise Damaged(f"cannot open ({code})") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Damaged("not a regular file")
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(fd, max(st.st_size + 1, 65536))
            except OSError as exc:
                if exc.errno in _DAMAGE_ERRNOS:
                    raise Damaged("cannot read") from None
                raise
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_atomic(path: Path, data: bytes, *, durable: bool) -> os.stat_result:
    """Replace `path` with `data` atomically; on any error the old file stays and no temp is left.

    With `durable`, the data and the directory entry are fsynced; if the directory fsync fails, the
    old file (or its absence) is put back, so a failed write never changes what is visible.
    """
    directory = path.parent
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.stem}{TMP_MARK}")
    tmp_left: str | None = tmp
    backup: Path | None = None
    try:
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)  # never retried: a failed fsync may have dropped the pages
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if durable:
            backup = directory / f".{path.stem}{TMP_MARK}bak-{secrets.token_hex(6)}"
            try:
                os.link(path, backup, follow_symlinks=False)
            except FileNotFoundError:
                backup = None
        os.replace(tmp, path)
        tmp_left = None
        if durable:
            try:
                fsync_dir(directory)
            except BaseException:
                if backup is not None:
                    os.replace(backup, path)
                    backup = None
                else:
                    os.unlink(path)
                raise
        return st
    finally:
        if tmp_left is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_left)
        if backup is not None:
            with contextlib.suppress(OSError):
                os.unlink(backup)
