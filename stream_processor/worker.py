"""The turn worker: one background thread a turn, its exclusive lock, stop requests across processes.

A turn holds an exclusive `flock` on `<user>/.turns/<cid>.lock` for its whole life (held: 409 from any
process; the kernel frees it when a process dies). No Flask objects, no SDK types.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .journal import TERMINAL_EVENTS, Journal, TurnPaths, _condition, last_frame
from .stages import INTERNAL_MESSAGE

log = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.1


class TurnBusy(Exception):
    """Another turn of this conversation is running (in this or another process)."""


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def acquire_turn_lock(paths: TurnPaths, attempts: int = 5) -> int:
    """Take the conversation's turn lock; return its fd, or raise `TurnBusy`."""
    paths.directory.mkdir(mode=0o700, exist_ok=True)
    fd = _open_lock(paths.lock)
    for attempt in range(attempts):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                raise
            # A liveness probe holds it for a microsecond; a real turn holds it for seconds.
            if attempt < attempts - 1:
                time.sleep(0.01)
    os.close(fd)
    raise TurnBusy(paths.conversation_id)


def turn_is_live(paths: TurnPaths) -> bool:
    """Tell whether some process holds the conversation's turn lock."""
    try:
        fd = os.open(paths.lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
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


# --------------------------------------------------------------------------------------------
# The turn worker


class TurnAborted(Exception):
    """The turn's commit failed before its first frame: nothing may be journalled or saved."""


class TurnControl:
    """What a turn's body sees: emit frames, and whether (and how) it was asked to stop.

    The body may start (and open its upstream request) before the turn is committed; `emit` and
    `wait_ready` block until the web layer has either begun the journal or aborted the turn.
    """

    def __init__(self, journal: Journal, cancel: Any) -> None:
        self._journal = journal
        self.cancel = cancel
        self._stopped = threading.Event()
        self._ready = threading.Event()
        self._aborted = False

    def wait_ready(self) -> None:
        """Block until the turn is committed; raise `TurnAborted` if it never will be."""
        self._ready.wait()
        if self._aborted:
            raise TurnAborted()

    def emit(self, event: str, data: dict[str, Any]) -> None:
        if not self._ready.is_set() or self._aborted:
            self.wait_ready()
        self._journal.append(event, data)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def request_stop(self) -> None:
        self._stopped.set()
        if self.cancel is not None:
            self.cancel.cancel()


TurnBody = Callable[[TurnControl], tuple[str, dict[str, Any]]]


class Turn:
    """One turn running in a background thread of this process."""

    def __init__(self, paths: TurnPaths, lock_fd: int, journal: Journal, control: TurnControl):
        self.paths = paths
        self.lock_fd = lock_fd
        self.journal = journal
        self.control = control
        self.thread: threading.Thread | None = None
        self.done = threading.Event()

    def begin(self, first_event: str, first_data: dict[str, Any]) -> None:
        """The turn is committed: start its journal with the first frame and let the body emit."""
        try:
            self.journal.begin(first_event, first_data)
        except BaseException:
            self.abort()
            raise
        self.control._ready.set()

    def abort(self, wait: float = 5.0) -> None:
        """The commit failed: stop the body (closing its upstream) and release the turn lock."""
        self.control._aborted = True
        if self.control.cancel is not None:
            self.control.cancel.cancel()
        self.control._ready.set()
        self.done.wait(wait)


class TurnRegistry:
    """Starts turns in background threads and watches their stop files; one per process."""

    def __init__(self) -> None:
        self._live: dict[str, Turn] = {}
        self._guard = threading.Lock()
        self._watcher: threading.Thread | None = None

    def start(
        self, paths: TurnPaths, lock_fd: int, turn_id: str, body: TurnBody, cancel: Any
    ) -> Turn:
        """Run `body` in a worker that owns `lock_fd` from now on; call `begin` or `abort` next."""
        with contextlib.suppress(FileNotFoundError):
            paths.stop.unlink()
        journal = Journal(paths.journal, turn_id)
        turn = Turn(paths, lock_fd, journal, TurnControl(journal, cancel))
        turn.thread = threading.Thread(
            target=self._run, args=(turn, body), name=f"turn-{turn_id}", daemon=True
        )
        with self._guard:
            self._live[str(paths.lock)] = turn
        try:
            turn.thread.start()
        except BaseException:
            with self._guard:
                self._live.pop(str(paths.lock), None)
            os.close(lock_fd)
            raise
        self._ensure_watcher()
        return turn

    def _run(self, turn: Turn, body: TurnBody) -> None:
        try:
            try:
                event, data = body(turn.control)
            except TurnAborted:
                return
            except Exception:
                log.exception("turn_body_failed turn=%s", turn.journal.turn_id)
                event, data = (
                    "error",
                    {
                        "code": "internal",
                        "message": INTERNAL_MESSAGE,
                        "retryable": True,
                        "message_id": turn.journal.turn_id,
                    },
                )
            try:
                turn.control.wait_ready()
            except TurnAborted:
                return
            turn.journal.append(event, data)
        finally:
            turn.journal.close()
            with self._guard:
                self._live.pop(str(turn.paths.lock), None)
            with contextlib.suppress(FileNotFoundError):
                turn.paths.stop.unlink()
            os.close(turn.lock_fd)  # releases the flock: the conversation takes turns again
            turn.done.set()

    def local(self, paths: TurnPaths) -> Turn | None:
        with self._guard:
            return self._live.get(str(paths.lock))

    def request_stop(self, paths: TurnPaths) -> None:
        """Ask the turn's owner to stop, wherever it runs: directly here, by a stop file elsewhere."""
        turn = self.local(paths)
        if turn is not None:
            turn.control.request_stop()
            return
        fd = os.open(paths.stop, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.close(fd)

    def wait_finished(self, paths: TurnPaths, timeout: float) -> bool:
        """Wait until the conversation's turn has journalled its last frame or its owner is gone."""
        deadline = time.monotonic() + timeout
        cond = _condition(paths.journal)
        while time.monotonic() < deadline:
            last = last_frame(paths.journal)
            if (last is not None and last[1] in TERMINAL_EVENTS) or not turn_is_live(paths):
                return True
            with cond:
                cond.wait(timeout=0.05)
        return False

    def _ensure_watcher(self) -> None:
        with self._guard:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._watcher = threading.Thread(
                target=self._watch_stop_files, name="turn-stop-watcher", daemon=True
            )
            self._watcher.start()

    def _watch_stop_files(self) -> None:
        # One thread for all of this process's turns: a stop asked in another process arrives as a file.
        while True:
            with self._guard:
                turns = list(self._live.values())
                if not turns:
                    self._watcher = None
                    return
            for turn in turns:
                if not turn.control.stopped and turn.paths.stop.exists():
                    turn.control.request_stop()
            time.sleep(STOP_POLL_SECONDS)
