"""Per-backend harnesses for the store contract suite: build a store, and make it busy, full or damaged.

The contract tests see only `Backend`; a PostgreSQL harness adds a class here and a name to BACKENDS.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import filelock
import pytest

from conversation_manager import ConversationStore, JsonConversationStore

LOCK_TIMEOUT = 0.5  # seconds a write waits for a busy lock in the contract suite


class Backend(Protocol):
    """What the contract suite needs from a backend besides the store itself."""

    name: str
    store: ConversationStore
    lock_timeout: float

    def busy(self, user: str) -> contextlib.AbstractContextManager[None]:
        """Hold the user's write lock elsewhere (as another process would) for the block."""
        ...

    def disk_full(self) -> contextlib.AbstractContextManager[None]:
        """Make every write fail for lack of space during the block."""
        ...

    def damage(self, user: str, cid: str) -> None:
        """Damage the stored record of a conversation so that it can no longer be read."""
        ...


class JsonBackend:
    """The JSON-file store in a temporary directory."""

    name = "json"

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.data_dir = tmp_path / "data"
        self.lock_timeout = LOCK_TIMEOUT
        self.store: ConversationStore = JsonConversationStore(
            self.data_dir, lock_timeout=LOCK_TIMEOUT
        )
        self._monkeypatch = monkeypatch

    @contextlib.contextmanager
    def busy(self, user: str) -> Iterator[None]:
        (self.data_dir / user).mkdir(parents=True, exist_ok=True)
        held, done = threading.Event(), threading.Event()

        def hold() -> None:  # another thread, with its own lock object: like another process
            with filelock.FileLock(str(self.data_dir / user / ".lock")):
                held.set()
                done.wait(30)

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        assert held.wait(5)
        try:
            yield
        finally:
            done.set()
            holder.join(5)

    @contextlib.contextmanager
    def disk_full(self) -> Iterator[None]:
        def full(*_: object) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        with self._monkeypatch.context() as patch:
            patch.setattr(os, "write", full)
            yield

    def damage(self, user: str, cid: str) -> None:
        path = self.data_dir / user / f"{cid}.json"
        path.unlink()
        path.write_bytes(b'{"id": "' + cid.encode() + b'", "messages": [')


BACKENDS: dict[str, Callable[[Path, pytest.MonkeyPatch], Backend]] = {"json": JsonBackend}
