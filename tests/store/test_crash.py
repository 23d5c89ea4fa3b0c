"""C1/C2: kill -9 mid-write (random and at every syscall boundary) never leaves a damaged file."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conversation_manager import JsonConversationStore

from .conftest import STOPPED, USER, new_conversation, temp_files

pytestmark = pytest.mark.slow


def _fork(body: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 0
        try:
            body()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    return pid


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _big_history(n: int = 110) -> list[dict[str, object]]:
    msgs: list[dict[str, object]] = []
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        msgs.append(
            {
                "id": f"m_{i}",
                "parent_id": f"m_{i - 1}" if i else None,
                "role": role,
                "text": "lorem ipsum " * 80,
                "timestamp": float(i),
                **({"status": "completed"} if role == "assistant" else {}),
            }
        )
    return msgs


def test_kill9_loop_atomic_writer(data_dir: Path) -> None:
    store = JsonConversationStore(data_dir)
    conv = new_conversation(store, messages=_big_history(), chat_name="0")
    path = data_dir / USER / f"{conv.id}.json"
    assert path.stat().st_size > 100_000

    def writer() -> None:
        child = JsonConversationStore(data_dir)
        counter = int(child.get(USER, conv.id).chat_name)
        while True:
            counter += 1
            child.rename(USER, conv.id, str(counter))

    rng = random.Random(1)
    last = 0
    last_rev = 0
    for _ in range(50):
        pid = _fork(writer)
        time.sleep(rng.uniform(0.02, 0.15))
        _kill(pid)
        fresh = JsonConversationStore(data_dir)
        loaded = fresh.get(USER, conv.id)  # parses, and the schema holds
        counter = int(loaded.chat_name)
        assert counter >= last and loaded.rev >= last_rev
        last, last_rev = counter, loaded.rev
        assert [s.chat_name for s in fresh.list(USER)] == [loaded.chat_name]
    assert last > 50  # the writer made real progress between kills
    assert not (data_dir / USER / ".corrupt").exists()
    for name in temp_files(data_dir / USER):
        os.utime(data_dir / USER / name, (1, 1))
    JsonConversationStore(data_dir).sweep()
    assert temp_files(data_dir / USER) == []


def test_kill9_naive_writer_canary(tmp_path: Path) -> None:
    """The harness must be able to catch a truncate-and-write writer mid-write."""
    path = tmp_path / "naive.json"
    doc = {"counter": 0, "messages": _big_history()}
    path.write_text(json.dumps(doc))

    def writer() -> None:
        while True:
            doc["counter"] = int(doc["counter"]) + 1  # type: ignore[call-overload]
            with open(path, "w") as f:  # truncate first: the bug the store avoids
                json.dump(doc, f)

    rng = random.Random(2)
    corrupt = 0
    for _ in range(80):
        pid = _fork(writer)
        time.sleep(rng.uniform(0.02, 0.15))
        _kill(pid)
        try:
            json.loads(path.read_text())
        except ValueError:
            corrupt += 1
            if corrupt >= 3:
                break
    assert corrupt >= 1


def _trap(k: int) -> None:
    """Make the k-th call to os.write / os.fsync / os.replace kill the process."""
    calls = [0]
    for name in ("write", "fsync", "replace"):
        real = getattr(os, name)

        def wrapped(*args: object, _real: Callable[..., object] = real) -> object:
            calls[0] += 1
            if calls[0] == k:
                os._exit(9)
            return _real(*args)

        setattr(os, name, wrapped)


def test_kill_at_every_syscall_boundary(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = JsonConversationStore(data_dir)
    conv = new_conversation(store, messages=_big_history(20))
    udir = data_dir / USER

    def one_turn(s: JsonConversationStore) -> None:
        _, _, reply = s.begin_turn(
            USER,
            conv.id,
            text="q",
            parent_id=None,
            model="m",
            provider="openai",
            context_mode="first",
        )
        s.finish_assistant_message(
            USER, conv.id, reply.id, text="a", status="completed", response_id="resp_k"
        )

    counted = [0]
    for name in ("write", "fsync", "replace"):
        real = getattr(os, name)

        def counting(*args: object, _real: Callable[..., object] = real) -> object:
            counted[0] += 1
            return _real(*args)

        monkeypatch.setattr(os, name, counting)
    one_turn(store)
    monkeypatch.undo()
    n = counted[0]
    assert n >= 8  # write, fsync, replace, dir fsync, index append; twice

    for k in range(1, n + 1):
        before = store.get(USER, conv.id)

        def child(k: int = k) -> None:
            _trap(k)
            one_turn(JsonConversationStore(data_dir))

        pid = _fork(child)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 9
        fresh = JsonConversationStore(data_dir)
        after = fresh.get(USER, conv.id)
        assert after.message_count in (before.message_count, before.message_count + 2)
        assert after.rev in (before.rev, before.rev + 1, before.rev + 2)
        (summary,) = fresh.list(USER)  # the index repairs itself after a kill before its append
        assert summary.message_count == after.message_count
        assert summary.last_update == after.last_update
        for name in temp_files(udir):
            os.utime(udir / name, (1, 1))
        fresh.sweep()
        assert temp_files(udir) == []
        for m in after.messages:
            if m.status == "in_progress":
                fresh.mark_interrupted(USER, conv.id, m.id, "", message=STOPPED)
