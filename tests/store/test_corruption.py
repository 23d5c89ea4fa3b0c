"""C10/C11: damaged files are set aside, never overwritten or shown empty; reads never write."""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path

import pytest

from conversation_manager import (
    HistoryUnavailable,
    JsonConversationStore,
    StorageError,
    atomic_files,
)

from .conftest import USER, new_conversation, temp_files, turn


def _write(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


def _valid(path: Path) -> bytes:
    return path.read_bytes()


KINDS = {
    "zero_bytes": lambda p, good: _write(p, b""),
    "truncated": lambda p, good: _write(p, good[: len(good) // 2]),
    "nul_padding": lambda p, good: _write(p, good + b"\x00" * 4096),
    "invalid_utf8": lambda p, good: _write(p, good.replace(b'"Test"', b'"\xff\xfe"')),
    "wrong_type": lambda p, good: _write(p, b"[]"),
    "wrong_schema": lambda p, good: _write(p, json.dumps({"id": p.stem}).encode()),
    "wrong_schema_version": lambda p, good: _write(
        p, good.replace(b'"schema_version":1', b'"schema_version":99')
    ),
    "directory": lambda p, good: (p.unlink(), p.mkdir(), (p / "inner").write_bytes(b"x")),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_corrupt_file_is_quarantined(
    kind: str, store: JsonConversationStore, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = new_conversation(store, chat_name="good")
    turn(store, good.id, "secret words")
    bad = new_conversation(store, chat_name="Test")
    turn(store, bad.id, "secret words")
    udir = data_dir / USER
    path = udir / f"{bad.id}.json"
    KINDS[kind](path, _valid(path))
    damaged = _snapshot_bytes(path)

    with caplog.at_level(logging.WARNING), pytest.raises(HistoryUnavailable):
        store.get(USER, bad.id)
    assert not os.path.lexists(path)
    copies = os.listdir(udir / ".corrupt")
    assert len(copies) == 1 and copies[0].startswith(f"{bad.id}-") and copies[0].endswith(".json")
    assert _snapshot_bytes(udir / ".corrupt" / copies[0]) == damaged
    records = [r for r in caplog.records if getattr(r, "event", None) == "history_corrupt"]
    assert records and records[0].conversation_id == bad.id  # type: ignore[attr-defined]
    assert all("secret words" not in r.getMessage() for r in caplog.records)

    for call in (
        lambda: store.get(USER, bad.id),
        lambda: store.rename(USER, bad.id, "x"),
        lambda: store.begin_turn(
            USER,
            bad.id,
            text="q",
            parent_id=None,
            model="m",
            provider="openai",
            context_mode="first",
        ),
        lambda: store.set_current(USER, bad.id, "root"),
    ):
        with pytest.raises(HistoryUnavailable):
            call()
    assert not os.path.lexists(path)  # nothing re-created it

    listed = {s.id: s for s in store.list(USER)}
    assert listed[bad.id].history_available is False
    assert listed[good.id].history_available is True
    assert store.get(USER, good.id).message_count == 2
    turn(store, good.id, "still fine")

    store.delete(USER, bad.id)
    assert bad.id not in {s.id for s in store.list(USER)}


def _snapshot_bytes(path: Path) -> object:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in path.iterdir()}
    return path.read_bytes()


def test_corrupt_file_found_by_list_first(store: JsonConversationStore, data_dir: Path) -> None:
    good = new_conversation(store)
    bad = new_conversation(store)
    path = data_dir / USER / f"{bad.id}.json"
    _write(path, b"{")
    listed = {s.id: s for s in store.list(USER)}
    assert listed[bad.id].history_available is False
    assert listed[bad.id].chat_name == "Test"  # the last known name from the index
    assert listed[good.id].history_available is True
    with pytest.raises(HistoryUnavailable):
        store.get(USER, bad.id)
    (data_dir / USER / ".index.jsonl").unlink()
    listed = {s.id: s for s in store.list(USER)}
    assert listed[bad.id].history_available is False


def _eacces_on(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def fake_open(p: object, flags: int, *a: object, **kw: object) -> int:
        if os.fspath(p) == str(path) and not flags & (os.O_WRONLY | os.O_RDWR):  # type: ignore[arg-type]
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(p, flags, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic_files.os, "open", fake_open)


def test_eacces_is_quarantined_with_bytes_and_mtime_kept(
    store: JsonConversationStore, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = new_conversation(store)
    path = data_dir / USER / f"{conv.id}.json"
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    _eacces_on(path, monkeypatch)
    with pytest.raises(HistoryUnavailable):
        store.get(USER, conv.id)
    monkeypatch.undo()
    (copy,) = (data_dir / USER / ".corrupt").iterdir()
    assert (copy.read_bytes(), copy.stat().st_mtime_ns) == before
    assert not path.exists()


def test_eio_never_writes(
    store: JsonConversationStore, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = new_conversation(store)
    other = new_conversation(store, chat_name="other")
    udir = data_dir / USER
    path = udir / f"{conv.id}.json"
    (udir / ".index.jsonl").unlink()  # make list() read the file too
    st = path.stat()
    before = (path.read_bytes(), st.st_mtime_ns, st.st_ino)
    real_read = os.read
    target = os.open(path, os.O_RDONLY)
    target_ino = os.fstat(target).st_ino
    os.close(target)

    def fake_read(fd: int, n: int) -> bytes:
        if os.fstat(fd).st_ino == target_ino:
            raise OSError(errno.EIO, "Input/output error")
        return real_read(fd, n)

    monkeypatch.setattr(atomic_files.os, "read", fake_read)
    with pytest.raises(StorageError):
        store.get(USER, conv.id)
    with pytest.raises(StorageError):
        store.begin_turn(
            USER,
            conv.id,
            text="q",
            parent_id=None,
            model="m",
            provider="openai",
            context_mode="first",
        )
    with pytest.raises(StorageError):
        store.rename(USER, conv.id, "x")
    listed = {s.id: s for s in store.list(USER)}
    assert listed[conv.id].history_available is False
    assert listed[other.id].history_available is True
    monkeypatch.undo()
    st = path.stat()
    assert (path.read_bytes(), st.st_mtime_ns, st.st_ino) == before
    assert not (udir / ".corrupt").exists()
    assert temp_files(udir) == []
    assert store.get(USER, conv.id).id == conv.id  # the disk recovered: the file is intact
