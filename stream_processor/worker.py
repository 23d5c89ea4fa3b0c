"""The turn worker: one background thread a turn, owning its turn lock, told of stops from any process.

Works over a `coordination.Coordination` (lock, frame log, stop signal). No Flask objects, no SDK
types; the error frame a crashed body ends with is built by the caller.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from .coordination import Coordination, FrameWriter, HeldLock

log = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.1
# Every TurnRegistry of this process, so a worker that exits can finish their turns (drain.py).
_REGISTRIES: weakref.WeakSet[TurnRegistry] = weakref.WeakSet()


class Cancellable(Protocol):
    """What the worker needs of a cancel token: `cancel()` closes the upstream at once."""

    def cancel(self) -> None:
        """Stop the upstream request."""
        ...


class TurnAborted(Exception):
    """The turn's commit failed before its first frame: nothing may be journalled or saved."""


class TurnsClosing(Exception):
    """This process is exiting (its drain began): it starts no new turn; another process may.

    `retry_after` is the seconds a client should wait before asking again (on a new connection).
    """

    retry_after = 1


class TurnControl:
    """What a turn's body sees: emit frames, and whether (and how) it was asked to stop.

    The body may start (and open its upstream request) before the turn is committed; `emit` and
    `wait_ready` block until the caller has either begun the frame log or aborted the turn.
    """

    def __init__(self, writer: FrameWriter, cancel: Cancellable | None) -> None:
        self._writer = writer
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
        """Add one frame (after the commit)."""
        if not self._ready.is_set() or self._aborted:
            self.wait_ready()
        self._writer.append(event, data)

    @property
    def stopped(self) -> bool:
        """Tell whether a stop was asked."""
        return self._stopped.is_set()

    def request_stop(self) -> None:
        """Mark the turn stopped and close its upstream request."""
        self._stopped.set()
        if self.cancel is not None:
            self.cancel.cancel()

    def mark_ready(self) -> None:
        """The turn is committed: let the body emit."""
        self._ready.set()

    def mark_aborted(self) -> None:
        """The commit failed: the body's next `emit` or `wait_ready` raises `TurnAborted`."""
        self._aborted = True
        if self.cancel is not None:
            self.cancel.cancel()
        self._ready.set()


TurnBody = Callable[[TurnControl], tuple[str, dict[str, Any]]]


class Turn:
    """One turn running in a background thread of this process."""

    def __init__(
        self,
        coordination: Coordination,
        conversation_id: str,
        lock: HeldLock,
        writer: FrameWriter,
        control: TurnControl,
        on_end: Callable[[], None] | None,
    ) -> None:
        self.coordination = coordination
        self.conversation_id = conversation_id
        self.lock = lock
        self.writer = writer
        self.control = control
        self.on_end = on_end
        self.thread: threading.Thread | None = None
        self.done = threading.Event()

    @property
    def key(self) -> tuple[str, str]:
        """Where the turn runs: (the coordination's key, the conversation id)."""
        return (self.coordination.key, self.conversation_id)

    def begin(self, first_event: str, first_data: dict[str, Any]) -> None:
        """The turn is committed: start its frames with the first one and let the body emit."""
        try:
            self.writer.begin(first_event, first_data)
        except BaseException:
            self.abort()
            raise
        self.control.mark_ready()

    def abort(self, wait: float = 5.0) -> None:
        """The commit failed: stop the body (closing its upstream) and wait for its clean-up."""
        self.control.mark_aborted()
        self.done.wait(wait)


class TurnRegistry:
    """Starts turns in background threads and watches their stop signals; one per process.

    `internal_error(message_id)` builds the data of the error frame a body that raised ends with.
    """

    def __init__(self, internal_error: Callable[[str], dict[str, Any]]) -> None:
        self.internal_error = internal_error
        self._live: dict[tuple[str, str], Turn] = {}
        self._guard = threading.Lock()
        self._watcher: threading.Thread | None = None
        # Set once the process drains its turns: a turn started later would be neither waited
        # for nor stopped, and die with the process mid-answer.
        self.closing = False
        _REGISTRIES.add(self)

    def close(self) -> None:
        """Refuse every later `start` with `TurnsClosing` (the turns running go on)."""
        # No lock: this may run in a signal handler. `start` reads the flag again under its guard
        # as it lists the turn, so a drain listing the turns after this sees every turn let in.
        self.closing = True

    def running(self) -> list[Turn]:
        """This registry's turns whose workers have not ended yet."""
        with self._guard:
            return [turn for turn in self._live.values() if not turn.done.is_set()]

    def start(
        self,
        coordination: Coordination,
        conversation_id: str,
        lock: HeldLock,
        turn_id: str,
        body: TurnBody,
        cancel: Cancellable | None,
        on_end: Callable[[], None] | None = None,
    ) -> Turn:
        """Run `body` in a worker that owns `lock` from now on; call `begin` or `abort` next.

        `on_end` runs when the worker ends, whatever ended it, just before the lock is released.
        Raises `TurnsClosing` (after releasing `lock` and running `on_end`) once `close` was called.
        """
        try:
            if self.closing:
                log.warning("turn_refused_exiting conversation=%s", conversation_id)
                raise TurnsClosing()
            with contextlib.suppress(OSError):
                coordination.clear_stop(conversation_id)
            writer = coordination.writer(conversation_id, turn_id)
        except BaseException:
            _run_quietly(on_end)
            lock.release()
            raise
        control = TurnControl(writer, cancel)
        turn = Turn(coordination, conversation_id, lock, writer, control, on_end)
        turn.thread = threading.Thread(
            target=self._run, args=(turn, body), name=f"turn-{turn_id}", daemon=True
        )
        with self._guard:
            refused = self.closing  # again under the guard `running` reads: listed or refused
            if not refused:
                self._live[turn.key] = turn
        if refused:
            log.warning("turn_refused_exiting conversation=%s", conversation_id)
            self._clean_up(turn)
            raise TurnsClosing()
        try:
            turn.thread.start()
        except BaseException:
            self._clean_up(turn)
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
                log.exception("turn_body_failed turn=%s", turn.writer.turn_id)
                event, data = "error", self.internal_error(turn.writer.turn_id)
            try:
                turn.control.wait_ready()
            except TurnAborted:
                return
            try:
                turn.writer.append(event, data)
            except Exception:
                # The frame log cannot be written (a read-only disk): readers see no live owner
                # once the lock goes, and end with `interrupted`.
                log.exception("turn_last_frame_failed turn=%s", turn.writer.turn_id)
        finally:
            self._clean_up(turn)

    def _clean_up(self, turn: Turn) -> None:
        # Whatever fails here, the lock is released: a stuck lock would refuse every new turn.
        try:
            _run_quietly(turn.writer.close)
            with self._guard:
                if self._live.get(turn.key) is turn:
                    del self._live[turn.key]
            _run_quietly(lambda: turn.coordination.clear_stop(turn.conversation_id))
            _run_quietly(turn.on_end)
        finally:
            turn.lock.release()  # the conversation takes turns again
            turn.done.set()

    def local(self, coordination: Coordination, conversation_id: str) -> Turn | None:
        """This process's running turn of the conversation, if any."""
        with self._guard:
            return self._live.get((coordination.key, conversation_id))

    def request_stop(self, coordination: Coordination, conversation_id: str) -> None:
        """Ask the turn's owner to stop, wherever it runs: directly here, by the stop signal elsewhere."""
        turn = self.local(coordination, conversation_id)
        if turn is not None:
            turn.control.request_stop()
            return
        coordination.request_stop(conversation_id)

    def wait_ended(self, coordination: Coordination, conversation_id: str, timeout: float) -> bool:
        """Wait until the conversation's turn has released its lock; False if `timeout` passed."""
        turn = self.local(coordination, conversation_id)
        if turn is not None:
            return turn.done.wait(timeout)
        deadline = time.monotonic() + timeout
        while coordination.is_live(conversation_id):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            coordination.wait_for_change(conversation_id, min(left, 0.05))
        return True

    def _ensure_watcher(self) -> None:
        with self._guard:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._watcher = threading.Thread(
                target=self._watch_stop_signals, name="turn-stop-watcher", daemon=True
            )
            self._watcher.start()

    def _watch_stop_signals(self) -> None:
        # One thread for all of this process's turns: a stop asked in another process arrives here.
        while True:
            with self._guard:
                turns = list(self._live.values())
                if not turns:
                    self._watcher = None
                    return
            for turn in turns:
                if turn.control.stopped:
                    continue
                try:
                    asked = turn.coordination.stop_requested(turn.conversation_id)
                except OSError:
                    continue
                if asked:
                    turn.control.request_stop()
            time.sleep(STOP_POLL_SECONDS)


def registries() -> list[TurnRegistry]:
    """Every live TurnRegistry of this process (a worker's exit hook drains their turns)."""
    return list(_REGISTRIES)


def _run_quietly(action: Callable[[], object] | None) -> None:
    if action is None:
        return
    try:
        action()
    except Exception:
        log.exception("turn_clean_up_step_failed")
