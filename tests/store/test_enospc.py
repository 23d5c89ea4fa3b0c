"""C3/C4: a full disk at any step raises StorageFull, keeps the old file identical, leaves no temp."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conversation_manager import JsonConversationStore, StorageError, StorageFull

from .conftest import USER, new_conversation, temp_files, turn


def _enospc(*_: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _patch(point: str, monkeypatch: pytest.MonkeyPatch, err: int = errno.ENOSPC) -> None:
    def fail(*_: object) -> None:
        raise OSError(err, os.strerror(err))

    if point in ("write", "replace"):
        monkeypatch.setattr(os, point, fail)
    elif point == "fsync":
        monkeypatch.setattr(os, "fsync", fail)
    elif point == "dir_fsync":
        real = os.fsync

        def fsync(fd: int) -> None:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                fail()
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)
    elif point == "mkstemp":
        real_open = os.open

        def open_(path: object, flags: int, *a: object, **kw: object) -> int:
            if flags & os.O_EXCL and ".tmp-" in os.fspath(path):  # type: ignore[arg-type]
                fail()
            return real_open(path, flags, *a, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", open_)


def _state(udir: Path) -> dict[str, tuple[bytes, int, int]]:
    out = {}
    for p in udir.iterdir():
        if p.suffix == ".json":
            st = p.stat()
            out[p.name] = (p.read_bytes(), st.st_ino, st.st_mtime_ns)
    return out


POINTS = ["mkstemp", "write", "fsync", "replace", "dir_fsync"]


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("op", ["begin_turn", "finish", "create", "rename"])
def test_enospc_injected(
    point: str,
    op: str,
    store: JsonConversationStore,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conv = new_conversation(store)
    _, _, pending = store.begin_turn(
        USER, conv.id, text="q", parent_id=None, model="m", provider="openai", context_mode="first"
    )
    udir = data_dir / USER
    before = _state(udir)
    index_before = (udir / ".index.jsonl").read_bytes()
    actions: dict[str, Callable[[], object]] = {
        "begin_turn": lambda: store.begin_turn(
            USER,
            conv.id,
            text=None,
            parent_id=pending.parent_id,
            model="m",
            provider="openai",
            context_mode="first",
        ),
        "finish": lambda: store.finish_assistant_message(
            USER, conv.id, pending.id, text="a", status="completed"
        ),
        "create": lambda: new_conversation(store, chat_name="new"),
        "rename": lambda: store.rename(USER, conv.id, "renamed"),
    }
    _patch(point, monkeypatch)
    with pytest.raises(StorageFull):
        actions[op]()
    monkeypatch.undo()
    assert _state(udir) == before  # old file byte-identical, same inode; no new file
    assert temp_files(udir) == []
    assert (udir / ".index.jsonl").read_bytes() == index_before
    actions[op]()  # the disk has room again: the same request succeeds


def test_eio_on_fsync_is_storage_error_and_not_retried(
    store: JsonConversationStore, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = new_conversation(store)
    udir = data_dir / USER
    before = _state(udir)
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(StorageError) as info:
        store.rename(USER, conv.id, "x")
    assert not isinstance(info.value, StorageFull)
    assert len(calls) == 1  # never retried on the same descriptor
    monkeypatch.undo()
    assert _state(udir) == before and temp_files(udir) == []


@contextlib.contextmanager
def _tiny_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
            capture_output=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("mount is not available")
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root?)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, timeout=10)


def test_enospc_real_tiny_tmpfs(tmp_path: Path) -> None:
    with _tiny_tmpfs(tmp_path / "tiny") as tiny:
        store = JsonConversationStore(tiny / "data")
        conv = new_conversation(store)
        turn(store, conv.id, "small")
        udir = tiny / "data" / USER
        before = _state(udir)
        ballast = tiny / "ballast"
        with contextlib.suppress(OSError), ballast.open("wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        big = "x" * 200_000
        with pytest.raises(StorageFull):
            store.begin_turn(
                USER,
                conv.id,
                text=big,
                parent_id=None,
                model="m",
                provider="openai",
                context_mode="first",
            )
        assert _state(udir) == before
        assert temp_files(udir) == []
        ballast.unlink()
        store.begin_turn(
            USER,
            conv.id,
            text=big,
            parent_id=None,
            model="m",
            provider="openai",
            context_mode="first",
        )
        assert store.get(USER, conv.id).message_count == 4
