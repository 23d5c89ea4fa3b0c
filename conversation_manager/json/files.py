"""The files of the JSON backend: each user's directory, its lock, reading a conversation (setting a
damaged one aside), saving one atomically with its index entry, sweeping and deleting files.

The store (store.py) builds on this; imports neither Flask nor an SDK.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from ..atomic_files import (
    Damaged,
    Missing,
    fsync_dir,
    make_private_dir,
    storage_error,
    write_atomic,
)
from ..errors import HistoryUnavailable, NotFound, StorageBusy, StorageError
from ..models import Conversation
from ..names import is_valid_user, validate_conversation_id, validate_user
from .index import append_index, entry_line, file_key
from .layout import LOCK_NAME, TMP_MARK, TURNS_DIR, check_dir, conversation_path, user_dir
from .locks import LOCK_CACHE_SIZE, LockCache
from .records import quarantine, quarantined, read
from .search_index import SearchIndex

log = logging.getLogger(__name__)


class ConversationFiles:
    """The conversation files under `data_dir/<user>/`, with the per-user lock and search index."""

    def __init__(
        self,
        data_dir: Path,
        *,
        lock_timeout: float = 10.0,
        durable: bool = True,
        lock_cache_size: int = LOCK_CACHE_SIZE,
    ) -> None:
        self.data_dir = data_dir
        self.durable = durable
        self.locks = LockCache(lock_timeout, size=lock_cache_size)
        self.search_index = SearchIndex(busy_timeout=lock_timeout)

    @contextlib.contextmanager
    def locked(self, udir: Path) -> Iterator[None]:
        """Hold the user's lock (bounded by the lock timeout: StorageBusy)."""
        with self.locks.held(udir / LOCK_NAME):
            yield

    def find_user_dir(self, user: str, *, create: bool) -> Path | None:
        """The user's directory, checked; None when it is not there and not to be `create`d."""
        udir = user_dir(self.data_dir, user)
        if check_dir(udir):
            return udir
        if not create:
            return None
        try:
            if not self.data_dir.is_dir():
                os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
            make_private_dir(udir, durable=self.durable)
        except OSError as exc:
            raise storage_error(exc, "creating the user directory") from exc
        check_dir(udir)
        return udir

    def make_user_dir(self, user: str) -> Path:
        """The user's directory, created when missing."""
        validate_user(user)
        udir = self.find_user_dir(user, create=True)
        assert udir is not None
        return udir

    def turn_dir(self, user: str) -> Path:
        """Return the user's directory for turns in flight (`<user>/.turns`), creating it."""
        tdir = self.make_user_dir(user) / TURNS_DIR
        try:
            make_private_dir(tdir, durable=False)
        except OSError as exc:
            raise storage_error(exc, "creating the turns directory") from exc
        return tdir

    # ----------------------------------------------------------------- reading

    def load(self, user: str, udir: Path | None, cid: str, *, locked: bool) -> Conversation:
        """Load a conversation; damaged files are set aside under the lock and reported."""
        if udir is None:
            raise NotFound()
        try:
            return read(udir, cid)[0]
        except Missing:
            if quarantined(udir, cid):
                raise HistoryUnavailable(cid) from None
            raise NotFound() from None
        except Damaged as damage:
            if not locked:
                with self.locked(udir):  # re-check under the lock: a writer may have replaced it
                    return self.load(user, udir, cid, locked=True)
            quarantine(user, udir, cid, damage.reason, durable=self.durable)
            raise HistoryUnavailable(cid) from None

    # ----------------------------------------------------------------- writing

    def save(self, udir: Path, conv: Conversation) -> None:
        """Write the conversation atomically (lock held), then append its index entry."""
        conv.refresh_derived()
        conv.rev += 1
        data = conv.model_dump_json().encode()
        path = conversation_path(udir, conv.id)
        try:
            st = write_atomic(path, data, durable=self.durable)
        except OSError as exc:
            raise storage_error(exc, "saving") from exc
        self.index_append(udir, entry_line(conv.id, file_key(st), conv.summary()))
        self.search_index.saved(udir, conv, file_key(st))

    def index_append(self, udir: Path, lines: bytes) -> None:
        """Append listing index lines; a failure only leaves an entry the next list repairs."""
        try:
            append_index(udir, lines, durable=self.durable)
        except OSError:
            # Derived data: the next list() sees the stale entry and repairs it.
            log.warning("index_append_failed", extra={"event": "index_append_failed"})

    @contextlib.contextmanager
    def editing(self, user: str, cid: str) -> Iterator[tuple[Path, Conversation]]:
        """Hold the user's lock over the conversation as it is on disk, for one edit and save."""
        validate_user(user)
        validate_conversation_id(cid)
        udir = self.find_user_dir(user, create=False)
        if udir is None:
            raise NotFound()
        with self.locked(udir):
            conv = self.load(user, udir, cid, locked=True)
            yield udir, conv

    def sweep(self, *, older_than: float = 60.0) -> int:
        """Remove stale temporary files (older than `older_than` s) under each user's lock."""
        removed = 0
        try:
            users = [e.name for e in os.scandir(self.data_dir) if is_valid_user(e.name)]
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise storage_error(exc, "sweeping") from exc
        cutoff = time.time() - older_than
        for user in users:
            try:
                udir = self.find_user_dir(user, create=False)
            except StorageError:
                continue
            if udir is None:
                continue
            try:
                with self.locked(udir):
                    for entry in os.scandir(udir):
                        if not (entry.name.startswith(".") and TMP_MARK in entry.name):
                            continue
                        st = entry.stat(follow_symlinks=False)
                        if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(entry.path)
                                removed += 1
            except (StorageBusy, OSError):
                log.warning("sweep_skipped user=%s", user, extra={"event": "sweep_skipped"})
        return removed

    def delete(self, udir: Path, cid: str) -> None:
        """Delete a conversation's file and the damaged copies set aside for it (lock taken)."""
        with self.locked(udir):
            path = conversation_path(udir, cid)
            damaged = quarantined(udir, cid)
            try:
                existed = os.path.lexists(path)
                if existed:
                    if os.path.isdir(path) and not os.path.islink(path):
                        raise StorageError("a directory stands at the conversation's path")
                    os.unlink(path)
                for copy in damaged:
                    if copy.is_dir() and not copy.is_symlink():
                        shutil.rmtree(copy)  # fd-based on Linux: never follows a symlink inside
                    else:
                        os.unlink(copy)
                if not existed and not damaged:
                    raise NotFound()
                if self.durable:
                    fsync_dir(udir)
            except OSError as exc:
                raise storage_error(exc, "deleting") from exc
            self.index_append(udir, entry_line(cid, None, None))
            self.search_index.deleted(udir, cid)
