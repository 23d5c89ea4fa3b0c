"""The JSON store's lock objects: a bounded cache, one object per path while in use, exclusion kept."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from conversation_manager import JsonConversationStore, StorageBusy
from conversation_manager.json import locks as json_locks
from conversation_manager.json.locks import LOCK_CACHE_SIZE, LockCache


def test_a_thousand_users_leave_at_most_the_bound(data_dir: Path) -> None:
    store = JsonConversationStore(data_dir, durable=False)
    for i in range(1000):
        user = f"user{i:04d}"
        conv = store.create(user, chat_name="x", model="m", provider="p", instructions="")
        store.rename(user, conv.id, "y")
    assert len(store.files.locks) <= LOCK_CACHE_SIZE


def test_a_lock_in_use_is_never_dropped_nor_doubled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: Counter[str] = Counter()
    real = json_locks.FileLock

    def counting(path: str, *args: object, **kwargs: object) -> object:
        made[path] += 1
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(json_locks, "FileLock", counting)
    cache = LockCache(0.2, size=2)
    held_path = tmp_path / "held.lock"
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with cache.held(held_path):
            held.set()
            done.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        for i in range(20):  # far beyond the bound: idle entries go, the held one stays
            with cache.held(tmp_path / f"other{i}.lock"):
                pass
        assert len(cache) <= 3
        with pytest.raises(StorageBusy), cache.held(held_path):  # another thread is excluded ...
            pass
        assert made[str(held_path)] == 1  # ... by the very same lock object
    finally:
        done.set()
        holder.join(5)
    with cache.held(held_path):
        pass
    assert len(cache) <= 2


def test_threads_exclude_each_other_while_the_cache_churns(tmp_path: Path) -> None:
    cache = LockCache(30.0, size=2)
    paths = [tmp_path / f"p{i}.lock" for i in range(6)]
    inside = Counter[int]()
    overlaps = 0
    guard = threading.Lock()

    def work(n: int) -> None:
        nonlocal overlaps
        for k in range(60):
            which = (n + k) % len(paths)
            with cache.held(paths[which]):
                with guard:
                    inside[which] += 1
                    overlaps += inside[which] > 1
                time.sleep(0.0005)  # widen the window another holder would have to overlap in
                with guard:
                    inside[which] -= 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert overlaps == 0
    assert len(cache) <= 2


def test_threads_of_one_process_queue_before_the_file_lock(tmp_path: Path) -> None:
    """A waiting thread does not poll the file lock while another thread of this process holds
    it: it is woken when that thread is done (polling is for other processes' holds)."""
    cache = LockCache(10.0)
    path = tmp_path / "user.lock"
    calls: list[str] = []
    held, release, entered = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with cache.held(path):
            held.set()
            release.wait(10)

    def wait_then_enter() -> None:
        with cache.held(path):
            entered.set()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    entry = cache._entries[str(path)]
    real_acquire = entry.lock.acquire

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(threading.current_thread().name)
        return real_acquire(*args, **kwargs)  # type: ignore[arg-type]

    entry.lock.acquire = counted  # type: ignore[method-assign]
    waiter = threading.Thread(target=wait_then_enter, name="waiter")
    waiter.start()
    time.sleep(0.2)
    assert calls == [] and not entered.is_set()  # queued in the process, not polling the file
    release.set()
    assert entered.wait(5)
    holder.join(5)
    waiter.join(5)
    assert calls == ["waiter"]  # one acquire of the file lock, once it was free here
