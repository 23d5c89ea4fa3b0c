"""Finish this process's running turns before it exits: wait for them, then stop the rest.

A turn runs in a daemon thread that outlives its request, so a worker process that exits (a reload,
a stop) would kill it mid-answer and leave its reply `in_progress` until a later load repairs it.
`drain` waits up to a bound for the turns to end on their own (`completed`), then asks the rest to
stop (their partial text saved `stopped`, as a user's stop would) and waits for those saves.
`Drainer` runs that in a thread of its own from a signal handler, so the server keeps serving the
turns' streams meanwhile; from its start the process's registries refuse new turns (`TurnsClosing`:
a request on a kept-alive connection would otherwise start one nobody waits for). Imports only this package's worker module (no Flask, no gunicorn).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from .worker import Turn, registries

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Drained:
    """What a drain did: turns that ended on their own, that were stopped, and still running."""

    finished: int
    stopped: int
    left: int


def running_turns() -> list[Turn]:
    """Every turn of this process whose worker has not ended."""
    return [turn for registry in registries() for turn in registry.running()]


def _wait(turns: set[Turn], until: float) -> None:
    """Wait until every turn in `turns` (and any started meanwhile) ended, or `until` passed."""
    while time.monotonic() < until:
        turns.update(running_turns())
        if all(turn.done.is_set() for turn in turns):
            return
        time.sleep(POLL_SECONDS)


def drain(wait: float, stop_grace: float) -> Drained:
    """Let turns run for `wait` seconds, stop those still running, wait `stop_grace` for their saves."""
    seen: set[Turn] = set(running_turns())
    _wait(seen, time.monotonic() + max(0.0, wait))
    finished = sum(1 for turn in seen if turn.done.is_set())
    late: list[Turn] = []
    until = time.monotonic() + max(0.0, stop_grace)
    while True:
        # Also a turn whose request was still being accepted when the stopping began.
        for turn in running_turns():
            if not turn.done.is_set() and not turn.control.stopped:
                log.warning("turn_stopped_at_exit conversation=%s", turn.conversation_id)
                turn.control.request_stop()  # closes the upstream; the text is saved `stopped`
                late.append(turn)
        if all(turn.done.is_set() for turn in running_turns()) or time.monotonic() >= until:
            break
        time.sleep(POLL_SECONDS)
    left = sum(1 for turn in late if not turn.done.is_set())
    if left:
        log.error("turns_left_running_at_exit count=%d", left)
    return Drained(finished=finished, stopped=len(late) - left, left=left)


class Drainer:
    """One drain per process, started once (by a signal or at exit) and joined before exiting."""

    def __init__(self) -> None:
        self._guard = threading.RLock()  # `start` may run in a signal handler: re-entrant
        self._thread: threading.Thread | None = None
        self._deadline = 0.0
        self.result: Drained | None = None

    def start(self, wait: float, stop_grace: float) -> None:
        """Refuse new turns, and begin draining in a background thread (a second call does nothing)."""
        with self._guard:
            if self._thread is not None:
                return
            for registry in registries():
                registry.close()
            self._deadline = time.monotonic() + wait + stop_grace
            thread = threading.Thread(
                target=self._run, args=(wait, stop_grace), name="turn-drain", daemon=True
            )
            thread.start()  # kept only once started: a failed start is tried again by `finish`
            self._thread = thread

    def _run(self, wait: float, stop_grace: float) -> None:
        log.info("turns_draining running=%d", len(running_turns()))  # new turns are refused now
        self.result = drain(wait, stop_grace)
        log.info(
            "turns_drained finished=%d stopped=%d left=%d",
            self.result.finished,
            self.result.stopped,
            self.result.left,
        )

    def finish(self, wait: float, stop_grace: float) -> Drained | None:
        """Start the drain if no signal did, wait for it (at most its own bound, plus a margin), then
        stop any turn still running that it never asked to stop."""
        self.start(wait, stop_grace)
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, self._deadline - time.monotonic()) + 0.5)
        # A turn of a registry made after the start (not closed), or one the drain thread never
        # reached: without this pass the process would exit under it.
        if any(not turn.control.stopped for turn in running_turns()):
            late = drain(0.0, stop_grace)
            log.info("turns_drained_at_exit stopped=%d left=%d", late.stopped, late.left)
        return self.result
