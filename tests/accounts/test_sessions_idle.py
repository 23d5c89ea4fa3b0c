"""An idle timeout under a minute no longer signs active users out: last use is refreshed at
least four times per idle timeout (issue 10, item 10). A fake clock: no sleeping, no timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.accounts import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_activity_every_half_second_keeps_a_two_second_idle_session(data_dir: Path) -> None:
    clock = Clock()
    sessions = SessionStore(data_dir, 3600, idle_timeout_seconds=2.0, clock=clock)
    sid = sessions.create("alice")
    for _ in range(8):  # 4 s of activity, one request every 0.5 s
        clock.now += 0.5
        assert sessions.lookup(sid) == "alice"
    clock.now += 2.0  # then 2 s without a request: idle
    assert sessions.lookup(sid) is None
    assert sessions.sweep_expired() == 1


@pytest.mark.parametrize(
    ("idle", "interval"), [(None, 60.0), (3600.0, 60.0), (240.0, 60.0), (60.0, 15.0), (2.0, 0.5)]
)
def test_touch_interval(data_dir: Path, idle: float | None, interval: float) -> None:
    assert SessionStore(data_dir, idle_timeout_seconds=idle).touch_interval == interval


def test_lookups_between_touches_only_read(data_dir: Path) -> None:
    clock = Clock()
    sessions = SessionStore(data_dir, 3600, idle_timeout_seconds=200.0, clock=clock)
    sid = sessions.create("alice")
    path = next((data_dir / ".app" / "sessions").glob("*.json"))
    before = path.stat().st_mtime
    clock.now += 40.0  # under the 50 s interval: nothing written
    assert sessions.lookup(sid) == "alice"
    assert path.stat().st_mtime == before
    clock.now += 40.0
    assert sessions.lookup(sid) == "alice"
    assert path.stat().st_mtime == pytest.approx(clock.now)


def test_a_session_past_its_lifetime_ends_however_active(data_dir: Path) -> None:
    clock = Clock()
    sessions = SessionStore(data_dir, 10.0, idle_timeout_seconds=2.0, clock=clock)
    sid = sessions.create("alice")
    for _ in range(19):
        clock.now += 0.5
        assert sessions.lookup(sid) == "alice"
    clock.now += 0.5
    assert sessions.lookup(sid) is None
