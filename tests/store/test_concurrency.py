"""C5/C6/C8: processes and threads serialise on the per-user lock; a dead holder frees it."""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import conversation_manager
from conversation_manager import JsonConversationStore, StorageBusy
from conversation_manager.json import index as json_index
from conversation_manager.json import locks as json_locks

from .conftest import USER, new_conversation
from .workers import append_turns

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_six_processes_forty_turns_each(data_dir: Path) -> None:
    store = JsonConversationStore(data_dir)
    conv = new_conversation(store)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=append_turns, args=(str(data_dir), USER, conv.id, w, 40))
        for w in range(6)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    loaded = store.get(USER, conv.id)
    users = [m for m in loaded.messages if m.role == "user"]
    assert len(users) == 240 and loaded.message_count == 480
    assert len({m.id for m in loaded.messages}) == 480
    assert all(m.status == "completed" for m in loaded.messages if m.role == "assistant")
    for w in range(6):
        order = [int(m.text.split("-")[1]) for m in users if m.text.startswith(f"w{w}-")]
        assert order == list(range(40))
    assert store.list(USER)[0].message_count == 480


def test_threads_sharing_the_lock_never_overlap(store: JsonConversationStore) -> None:
    conv = new_conversation(store)
    udir = store.files.find_user_dir(USER, create=False)
    assert udir is not None
    inside = 0
    overlaps = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, overlaps
        for _ in range(50):
            with store.files.locked(udir):
                with guard:
                    inside += 1
                    overlaps += inside > 1
                time.sleep(0.0005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == 0

    def turns(n: int) -> None:
        for i in range(10):
            store.begin_turn(
                USER,
                conv.id,
                text=f"t{n}-{i}",
                parent_id=None,
                model="m",
                provider="openai",
                context_mode="first",
            )

    threads = [threading.Thread(target=turns, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(USER, conv.id).message_count == 160


def test_code_never_sets_thread_local_false(
    store: JsonConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = Path(conversation_manager.__file__).parent
    for source in package.rglob("*.py"):
        assert not re.search(r"thread_local\s*=\s*False", source.read_text()), source
    made: list[tuple[str, dict[str, object]]] = []
    real = json_locks.FileLock

    def recording(path: str, *args: object, **kwargs: object) -> object:
        made.append((path, kwargs))
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(json_locks, "FileLock", recording)
    conv = new_conversation(store)
    store.rename(USER, conv.id, "a")
    store.rename(USER, conv.id, "b")
    store.list(USER)
    assert made and all(
        kw.get("thread_local", True) is True and not args_has_false(kw) for _, kw in made
    )
    assert len({p for p, _ in made}) == len(made)  # one lock object per path, reused


def args_has_false(kwargs: dict[str, object]) -> bool:
    return kwargs.get("thread_local") is False


def test_killed_lock_holder(data_dir: Path) -> None:
    store = JsonConversationStore(data_dir, lock_timeout=0.3)
    conv = new_conversation(store)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.workers", str(data_dir), USER],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(StorageBusy) as info:
            store.rename(USER, conv.id, "blocked")
        assert info.value.retry_after >= 1
        assert time.monotonic() - started < 5
        assert store.get(USER, conv.id).chat_name == "Test"  # reads need no lock
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            store.rename(USER, conv.id, "after")
            break
        except StorageBusy:
            assert time.monotonic() < deadline
    assert store.get(USER, conv.id).chat_name == "after"


def test_listing_while_a_conversation_is_deleted(
    store: JsonConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A DELETE between the directory read and the file's stat (the page lists while its undo-delete
    # fires) gave a 500: a file gone meanwhile is simply not listed.
    keep, gone = new_conversation(store), new_conversation(store)
    real_scandir = os.scandir

    class Racing:
        def __init__(self, path: Any) -> None:
            self.inner = real_scandir(path)

        def __enter__(self) -> Racing:
            return self

        def __exit__(self, *exc: object) -> None:
            self.inner.close()

        def __iter__(self) -> Iterator[os.DirEntry[str]]:
            for entry in self.inner:
                if entry.name == f"{gone.id}.json":
                    store.delete(USER, gone.id)  # after the directory was read, before the stat
                yield entry

    monkeypatch.setattr(json_index.os, "scandir", Racing)
    listed = [s.id for s in store.list(USER)]
    assert keep.id in listed and gone.id not in listed
