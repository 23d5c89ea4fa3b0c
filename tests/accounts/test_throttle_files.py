"""The login-throttle sweep leaves no lock files behind, and the state files' lock objects stay
bounded however many paths were locked (issue 9, defects)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from app.accounts import AccountStore, StorageBusy
from conversation_manager.json.accounts import THROTTLE_LOCK_STRIPES
from conversation_manager.json.locks import LOCK_CACHE_SIZE
from conversation_manager.json.state_files import live_lock_objects, locked


def test_two_hundred_addresses_leave_no_lock_file_per_address(
    data_dir: Path, fast_hasher: PasswordHasher
) -> None:
    store = AccountStore(data_dir, hasher=fast_hasher, failure_window_seconds=0.2)
    for i in range(200):
        assert not store.verify(f"user{i}", "wrong password!", ip=f"10.0.{i}.1")
    throttle = data_dir / ".app" / "throttle"
    locks = [p.name for p in throttle.iterdir() if p.name.endswith(".lock")]
    assert len(locks) <= THROTTLE_LOCK_STRIPES  # shared lock files, not one per address
    assert all(n.startswith(".stripe-") for n in locks)
    time.sleep(0.3)  # the window passes
    assert store.sweep() == 400  # one window per account and one per address
    assert sorted(p.name for p in throttle.iterdir() if not p.name.startswith(".stripe-")) == []


def test_the_sweep_removes_lock_files_an_older_version_left(
    data_dir: Path, fast_hasher: PasswordHasher
) -> None:
    store = AccountStore(data_dir, hasher=fast_hasher)
    throttle = data_dir / ".app" / "throttle"
    for name in ("user-alice.json.lock", "ip-" + "0" * 32 + ".json.lock"):
        (throttle / name).touch()
    store.sweep()
    assert [p.name for p in throttle.iterdir() if not p.name.startswith(".stripe-")] == []


def test_lock_objects_are_bounded_and_a_held_lock_still_excludes(tmp_path: Path) -> None:
    held, done = threading.Event(), threading.Event()
    target = tmp_path / "held"

    def hold() -> None:
        with locked(target, 5.0):
            held.set()
            done.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(5)
        before = live_lock_objects()
        for i in range(1000):
            with locked(tmp_path / f"f{i}", 5.0):
                pass
        assert live_lock_objects() - before <= LOCK_CACHE_SIZE
        # The held lock's object was never dropped for a second one: it still excludes.
        with pytest.raises(StorageBusy), locked(target, 0.1):
            pass
    finally:
        done.set()
        thread.join(10)
    with locked(target, 0.5):
        pass
