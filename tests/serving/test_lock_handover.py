"""The next turn of a conversation right after `done`: it waits for the ending turn's clean-up.

A turn's worker writes its last frame, then releases its admission and its turn lock. A browser
(or a gevent worker, which switches at once) may send the next message in between: that message
must wait for the lock, not get 409. A turn still running, or one that began, is refused at once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import stream_processor as sp


def held_with_frames(coordination: sp.FileCoordination, cid: str, *events: str) -> sp.HeldLock:
    lock = coordination.acquire(cid)
    writer = coordination.writer(cid, "m_1")
    writer.begin("conversation", {"conversation_id": cid})
    for event in events:
        writer.append(event, {})
    writer.close()
    return lock


def test_a_lock_held_past_the_last_frame_is_waited_for(tmp_path: Path) -> None:
    coordination = sp.FileCoordination(tmp_path)
    lock = held_with_frames(coordination, "c_1", "delta", "done")
    threading.Timer(0.3, lock.release).start()
    t0 = time.monotonic()
    second = coordination.acquire("c_1")  # raised TurnBusy before
    assert 0.2 < time.monotonic() - t0 < 2
    second.release()


def test_a_running_turn_is_busy_at_once(tmp_path: Path) -> None:
    coordination = sp.FileCoordination(tmp_path)
    lock = held_with_frames(coordination, "c_1", "delta")
    t0 = time.monotonic()
    with pytest.raises(sp.TurnBusy):
        coordination.acquire("c_1")
    assert time.monotonic() - t0 < 0.5
    lock.release()


def test_a_clean_up_that_never_ends_is_busy_after_the_wait(tmp_path: Path) -> None:
    coordination = sp.FileCoordination(tmp_path, ending_wait=0.3)
    lock = held_with_frames(coordination, "c_1", "done")
    t0 = time.monotonic()
    with pytest.raises(sp.TurnBusy):
        coordination.acquire("c_1")
    assert 0.2 < time.monotonic() - t0 < 2
    lock.release()
