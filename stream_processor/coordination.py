"""Turn coordination behind three small Protocols (turn lock, frame log, stop signal) and their files.

`FileCoordination(turn_dir)` is today's implementation: an exclusive `flock` on `<cid>.lock` held by
the turn for its whole life (the kernel frees it when a process dies), the `<cid>.jsonl` journal and
the `<cid>.stop` file. A database-backed one can replace it. Imports only this package's modules.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from . import journal


class TurnBusy(Exception):
    """Another turn of this conversation is running (in this or another process)."""


class HeldLock(Protocol):
    """A conversation's turn lock, owned by one turn until `release` (safe to call twice)."""

    def release(self) -> None:
        """Give the lock up: the conversation takes turns again."""
        ...


class TurnLock(Protocol):
    """At most one turn per conversation, across threads and processes."""

    def acquire(self, conversation_id: str) -> HeldLock:
        """Take the conversation's turn lock for a new turn, or raise `TurnBusy`."""
        ...

    def is_live(self, conversation_id: str) -> bool:
        """Tell whether a turn of the conversation holds its lock now."""
        ...


class FrameWriter(Protocol):
    """The owner's side of one turn's frames."""

    turn_id: str

    def begin(self, first_event: str, first_data: dict[str, Any]) -> None:
        """Start the turn's frames (replacing the previous turn's) with its first frame."""
        ...

    def append(self, event: str, data: dict[str, Any]) -> int:
        """Add one frame; return its number (from 1)."""
        ...

    def close(self) -> None:
        """End writing (safe to call twice, also when `begin` never ran)."""
        ...


class FrameLog(Protocol):
    """Each conversation's latest turn's frames, readable from any process."""

    def writer(self, conversation_id: str, turn_id: str) -> FrameWriter:
        """The writer of a new turn's frames (nothing is replaced before its `begin`)."""
        ...

    def read_header(self, conversation_id: str) -> dict[str, Any] | None:
        """The latest turn's header (`turn_id`, `started_at`), or None."""
        ...

    def follow(
        self,
        conversation_id: str,
        *,
        after: int,
        dead_error: Callable[[str], dict[str, Any]],
        keepalive_seconds: float,
    ) -> Iterator[bytes]:
        """The SSE bytes of the latest turn after frame `after`, live until `done` or `error`."""
        ...

    def last_frame(self, conversation_id: str) -> tuple[int, str] | None:
        """(number, event) of the latest turn's last complete frame."""
        ...

    def reply_text(self, conversation_id: str) -> tuple[str | None, str]:
        """(turn id, the text of its delta frames), to repair a reply whose worker died."""
        ...

    def finished_available(self, conversation_id: str) -> bool:
        """Tell whether the latest turn, finished, may still be replayed (10 minutes)."""
        ...

    def wait_for_change(self, conversation_id: str, timeout: float) -> None:
        """Block until a frame may have been added, or `timeout` seconds."""
        ...

    def discard(self, conversation_id: str) -> None:
        """Forget the conversation's frames and stop request (it was deleted)."""
        ...


class StopSignal(Protocol):
    """A stop asked in any process reaches the turn's owner (which checks every ~100 ms)."""

    def request_stop(self, conversation_id: str) -> None:
        """Ask the owner of the conversation's turn to stop."""
        ...

    def stop_requested(self, conversation_id: str) -> bool:
        """Tell whether a stop was asked since the last `clear_stop`."""
        ...

    def clear_stop(self, conversation_id: str) -> None:
        """Forget a stop request (a new turn starts, or the turn ended)."""
        ...


class Coordination(TurnLock, FrameLog, StopSignal, Protocol):
    """One user's turn coordination; `key` names the place, so a process can find its own turns."""

    key: str


# --------------------------------------------------------------------------------------------
# The file implementation


class _Releases:
    """Counts the turn locks this process released, so that `acquire` wakes at once when a turn
    of this process lets its lock go (the next message of a conversation often arrives while the
    turn before it cleans up), instead of at its next 10 ms poll (kept for other processes)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0

    def released(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        """Wait until a lock is released after `seen` was read, or `timeout` seconds."""
        with self._cond:
            self._cond.wait_for(lambda: self.count != seen, timeout)


_RELEASES = _Releases()
_POLL_SECONDS = 0.01  # how often `acquire` tries a lock held in another process


class _FlockHeld:
    """A held `flock` on an open file descriptor; closing the descriptor releases it."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
            _RELEASES.released()


def _open_private(path: Path, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


class FileCoordination:
    """Turn lock, frame log and stop signal as files in one user's turn directory."""

    def __init__(
        self, turn_dir: Path, *, acquire_attempts: int = 5, ending_wait: float = 2.0
    ) -> None:
        self.turn_dir = Path(turn_dir)
        self.key = str(self.turn_dir)
        self.acquire_attempts = acquire_attempts
        # A turn whose last frame is written still holds its lock through its clean-up (the
        # admission's release): the browser's next message may come first. Wait that long for it.
        self.ending_wait = ending_wait

    def _path(self, conversation_id: str, suffix: str) -> Path:
        if not conversation_id or "/" in conversation_id or conversation_id.startswith("."):
            raise ValueError("not a conversation id")
        return self.turn_dir / f"{conversation_id}{suffix}"

    # -- TurnLock --------------------------------------------------------------------------

    def acquire(self, conversation_id: str) -> HeldLock:
        """Take the conversation's turn lock; raise `TurnBusy` when a turn holds it."""
        fd = _open_private(self._path(conversation_id, ".lock"), os.O_RDWR | os.O_CREAT)
        # A liveness probe holds it for a microsecond; a real turn holds it for seconds. After
        # `acquire_attempts` polls, and every ten polls from then on, ask whether the holder's
        # turn has ended (it is cleaning up): if so wait up to `ending_wait` for it, else busy.
        check_at = time.monotonic() + self.acquire_attempts * _POLL_SECONDS
        ending: float | None = None
        while True:
            seen = _RELEASES.count
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return _FlockHeld(fd)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
            now = time.monotonic()
            if now >= check_at:
                if not self._holder_ended(conversation_id):
                    break  # a turn runs (or a new one began): busy
                if ending is None:
                    ending = now + self.ending_wait
                check_at = now + 10 * _POLL_SECONDS
            if ending is not None and now >= ending:
                break
            _RELEASES.wait(seen, _POLL_SECONDS)
        os.close(fd)
        raise TurnBusy(conversation_id)

    def _holder_ended(self, conversation_id: str) -> bool:
        """Tell whether the journal's last frame ends its turn (the holder is cleaning up)."""
        last = self.last_frame(conversation_id)
        return last is not None and last[1] in journal.TERMINAL_EVENTS

    def is_live(self, conversation_id: str) -> bool:
        """Tell whether some process holds the conversation's turn lock."""
        try:
            fd = _open_private(self._path(conversation_id, ".lock"), os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return True
            raise
        finally:
            os.close(fd)  # closing drops the probe's own lock too
        return False

    # -- FrameLog --------------------------------------------------------------------------

    def writer(self, conversation_id: str, turn_id: str) -> FrameWriter:
        """A journal writer for a new turn (the file is replaced only by its `begin`)."""
        return journal.Journal(self._path(conversation_id, ".jsonl"), turn_id)

    def read_header(self, conversation_id: str) -> dict[str, Any] | None:
        """The journal's header, or None."""
        return journal.read_header(self._path(conversation_id, ".jsonl"))

    def follow(
        self,
        conversation_id: str,
        *,
        after: int = 0,
        dead_error: Callable[[str], dict[str, Any]],
        keepalive_seconds: float = 15.0,
    ) -> Iterator[bytes]:
        """Tail the journal after frame `after`, live while the lock is held."""
        return journal.follow(
            self._path(conversation_id, ".jsonl"),
            after=after,
            is_live=lambda: self.is_live(conversation_id),
            dead_error=dead_error,
            keepalive_seconds=keepalive_seconds,
        )

    def last_frame(self, conversation_id: str) -> tuple[int, str] | None:
        """(number, event) of the journal's last complete frame."""
        return journal.last_frame(self._path(conversation_id, ".jsonl"))

    def reply_text(self, conversation_id: str) -> tuple[str | None, str]:
        """(turn id, the text of the journal's delta frames)."""
        return journal.journal_text(self._path(conversation_id, ".jsonl"))

    def finished_available(self, conversation_id: str) -> bool:
        """Tell whether the journal was written in the last 10 minutes."""
        return journal.finished_turn_available(self._path(conversation_id, ".jsonl"))

    def wait_for_change(self, conversation_id: str, timeout: float) -> None:
        """Wait for a same-process append, or `timeout` (another process's turn: a poll)."""
        journal.wait_for_change(self._path(conversation_id, ".jsonl"), timeout)

    def discard(self, conversation_id: str) -> None:
        """Remove the journal and the stop file (the lock file stays: a turn may hold it)."""
        for suffix in (".jsonl", ".stop"):
            with contextlib.suppress(FileNotFoundError):
                self._path(conversation_id, suffix).unlink()

    # -- StopSignal ------------------------------------------------------------------------

    def request_stop(self, conversation_id: str) -> None:
        """Create the stop file the owner checks."""
        os.close(_open_private(self._path(conversation_id, ".stop"), os.O_WRONLY | os.O_CREAT))

    def stop_requested(self, conversation_id: str) -> bool:
        """Tell whether the stop file exists."""
        return self._path(conversation_id, ".stop").exists()

    def clear_stop(self, conversation_id: str) -> None:
        """Remove the stop file."""
        with contextlib.suppress(FileNotFoundError):
            self._path(conversation_id, ".stop").unlink()
