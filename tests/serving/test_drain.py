"""The exit drain without gunicorn: turns that end in time finish, the others are stopped and saved."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import stream_processor as sp
from stream_processor.drain import Drainer, drain, running_turns


def start(
    registry: sp.TurnRegistry,
    coordination: sp.FileCoordination,
    cid: str,
    seconds: float,
    saving: float = 0.0,
):
    """A turn that emits a delta every 10 ms for `seconds`, or until stopped, then takes `saving`
    seconds to save; returns its outcome box."""
    outcome: dict[str, Any] = {}

    def body(control: sp.TurnControl) -> tuple[str, dict[str, Any]]:
        end = time.monotonic() + seconds
        text = ""
        while time.monotonic() < end and not control.stopped:
            control.emit("delta", {"text": "w"})
            text += "w"
            time.sleep(0.01)
        time.sleep(saving)
        outcome["status"] = "stopped" if control.stopped else "completed"
        outcome["text"] = text
        return "done", {"status": outcome["status"]}

    lock = coordination.acquire(cid)
    turn = registry.start(coordination, cid, lock, f"m_{cid}", body, None)
    turn.begin("conversation", {"conversation_id": cid})
    return outcome


def test_drain_waits_then_stops(tmp_path: Path) -> None:
    registry = sp.TurnRegistry(lambda mid: {"code": "internal", "message_id": mid})
    coordination = sp.FileCoordination(tmp_path)
    short = start(registry, coordination, "c_short", 0.2)
    long = start(registry, coordination, "c_long", 60)
    t0 = time.monotonic()
    result = drain(wait=1.0, stop_grace=5.0)
    assert time.monotonic() - t0 < 5
    assert (result.finished, result.stopped, result.left) == (1, 1, 0)
    assert short["status"] == "completed"
    assert long["status"] == "stopped" and long["text"]
    assert not running_turns()
    assert coordination.last_frame("c_long") is not None
    assert not coordination.is_live("c_long")  # the lock is free: the conversation takes turns


def test_drainer_started_by_a_signal_is_joined_once(tmp_path: Path) -> None:
    registry = sp.TurnRegistry(lambda mid: {"code": "internal", "message_id": mid})
    coordination = sp.FileCoordination(tmp_path)
    long = start(registry, coordination, "c_long", 60)
    drainer = Drainer()
    drainer.start(0.2, 5.0)
    drainer.start(10.0, 10.0)  # a second signal changes nothing
    t0 = time.monotonic()
    result = drainer.finish(30.0, 30.0)
    assert time.monotonic() - t0 < 5
    assert result is not None and result.stopped == 1 and long["status"] == "stopped"
    assert not [t for t in threading.enumerate() if t.name == "turn-drain" and t.is_alive()]


def test_drain_with_nothing_running_returns_at_once() -> None:
    t0 = time.monotonic()
    assert drain(wait=10.0, stop_grace=10.0).left == 0
    assert time.monotonic() - t0 < 1


def test_a_turn_started_while_stopping_is_stopped_too(tmp_path: Path) -> None:
    registry = sp.TurnRegistry(lambda mid: {"code": "internal", "message_id": mid})
    coordination = sp.FileCoordination(tmp_path)
    first = start(registry, coordination, "c_1", 60, saving=1.0)
    later: dict[str, Any] = {}
    # A request that was being accepted when the drain began starts its turn during the stops.
    timer = threading.Timer(0.3, lambda: later.update(box=start(registry, coordination, "c_2", 60)))
    timer.start()
    result = drain(wait=0.0, stop_grace=5.0)
    assert result.left == 0 and result.stopped == 2
    assert first["status"] == "stopped" and later["box"]["status"] == "stopped"


def test_a_turn_asked_for_after_the_drain_began_is_refused(tmp_path: Path) -> None:
    # A request on a kept-alive connection after SIGTERM: its turn would be neither waited for
    # nor stopped, and die with the process. It is refused, and its lock is free again.
    registry = sp.TurnRegistry(lambda mid: {"code": "internal", "message_id": mid})
    coordination = sp.FileCoordination(tmp_path)
    ended: list[bool] = []
    drainer = Drainer()
    drainer.start(25.0, 4.5)  # the signal: nothing runs yet
    lock = coordination.acquire("c_late")
    with pytest.raises(sp.TurnsClosing):
        registry.start(
            coordination,
            "c_late",
            lock,
            "m_late",
            lambda c: ("done", {}),
            None,
            on_end=lambda: ended.append(True),
        )
    assert ended == [True]  # the turn's admission is given back
    assert not coordination.is_live("c_late")
    assert not running_turns()
    t0 = time.monotonic()
    assert drainer.finish(25.0, 4.5) is not None
    assert time.monotonic() - t0 < 5


def test_the_exit_stops_a_turn_the_drain_never_saw(tmp_path: Path) -> None:
    # A registry made after the drain began (so not closed): the exit's last pass stops its turn.
    drainer = Drainer()
    drainer.start(0.0, 0.5)
    registry = sp.TurnRegistry(lambda mid: {"code": "internal", "message_id": mid})
    coordination = sp.FileCoordination(tmp_path)
    time.sleep(0.2)
    late = start(registry, coordination, "c_late", 60)
    t0 = time.monotonic()
    drainer.finish(0.0, 5.0)
    assert time.monotonic() - t0 < 5
    assert late["status"] == "stopped" and late["text"]
    assert not running_turns()
    assert not coordination.is_live("c_late")


def test_post_chat_on_an_exiting_worker_answers_503_to_retry(client: Any) -> None:
    drainer = Drainer()
    drainer.start(1.0, 1.0)
    response = client.post("/chat", json={"message": "late"})
    assert response.status_code == 503, response.data
    assert response.get_json()["error"]["code"] == "storage_busy"  # retryable on the page
    assert response.headers["Retry-After"] == "1"
    drainer.finish(1.0, 1.0)
    # Nothing was started or stored: no conversation holds a reply left `in_progress`.
    assert client.get("/get-all-conversations").get_json()["conversations"] == []
