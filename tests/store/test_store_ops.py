"""The JSON backend's files: what a conversation looks like on disk, the index's self-repair, the sweep.

The operations themselves, the same for every backend, are in test_contract.py.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from conversation_manager import JsonConversationStore, NotFound

from .conftest import USER, new_conversation, temp_files


def test_conversation_file_on_disk(store: JsonConversationStore, data_dir: Path) -> None:
    conv = new_conversation(store)
    loaded = store.get(USER, conv.id)
    assert loaded.rev == 1 and loaded.schema_version == 1
    on_disk = json.loads((data_dir / USER / f"{conv.id}.json").read_text())
    assert on_disk["object"] == "conversation" and on_disk["legacy"] is None
    assert sorted(os.listdir(data_dir / USER)) == sorted(
        [".index.jsonl", ".lock", f"{conv.id}.json"]
    )


def test_finish_after_delete_leaves_no_file(store: JsonConversationStore, data_dir: Path) -> None:
    conv = new_conversation(store)
    _, _, reply = store.begin_turn(
        USER, conv.id, text="q", parent_id=None, model="m", provider="openai", context_mode="first"
    )
    store.delete(USER, conv.id)
    with contextlib.suppress(NotFound):
        store.finish_assistant_message(USER, conv.id, reply.id, text="a", status="completed")
    assert not (data_dir / USER / f"{conv.id}.json").exists()
    assert temp_files(data_dir / USER) == []


def test_turn_dir_is_inside_the_user_dir(store: JsonConversationStore, data_dir: Path) -> None:
    assert store.turn_dir(USER) == data_dir.resolve() / USER / ".turns"
    assert oct((data_dir / USER / ".turns").stat().st_mode & 0o777) == "0o700"


# ---------------------------------------------------------------- index self-repair


def _index(data_dir: Path) -> Path:
    return data_dir / USER / ".index.jsonl"


def test_index_rebuilt_when_deleted(store: JsonConversationStore, data_dir: Path) -> None:
    ids = {new_conversation(store, chat_name=f"n{i}").id for i in range(5)}
    _index(data_dir).unlink()
    assert {s.id for s in store.list(USER)} == ids
    assert _index(data_dir).exists()
    assert {s.id for s in store.list(USER)} == ids


def test_index_garbage_is_rebuilt(store: JsonConversationStore, data_dir: Path) -> None:
    ids = {new_conversation(store, chat_name=f"n{i}").id for i in range(3)}
    _index(data_dir).write_bytes(b'\x00\xff garbage\n[1,2]\n{"id": 5}\n' * 10)
    assert {s.id for s in store.list(USER)} == ids
    assert {s.id for s in store.list(USER)} == ids


def test_index_repairs_a_write_the_index_never_heard_of(
    store: JsonConversationStore, data_dir: Path
) -> None:
    conv = new_conversation(store, chat_name="before")
    # Simulate a crash between the conversation write and the index append: write the file directly.
    loaded = store.get(USER, conv.id)
    loaded.chat_name = "after crash"
    loaded.messages = []
    path = data_dir / USER / f"{conv.id}.json"
    path.write_text(loaded.model_dump_json())
    other = loaded.model_copy(update={"id": "c_direct", "chat_name": "direct"})
    (data_dir / USER / "c_direct.json").write_text(other.model_dump_json())
    names = {s.id: s.chat_name for s in store.list(USER)}
    assert names == {conv.id: "after crash", "c_direct": "direct"}
    # a file removed behind the index's back disappears from the list
    (data_dir / USER / "c_direct.json").unlink()
    assert [s.id for s in store.list(USER)] == [conv.id]


def test_index_torn_last_line_is_ignored(store: JsonConversationStore, data_dir: Path) -> None:
    a = new_conversation(store, chat_name="a")
    with _index(data_dir).open("ab") as f:
        f.write(b'{"id":"c_torn","k":[1,2')
    b = new_conversation(store, chat_name="b")
    assert {s.id for s in store.list(USER)} == {a.id, b.id}
    lines = _index(data_dir).read_bytes().split(b"\n")
    assert b'{"id":"c_torn","k":[1,2' in lines  # alone on its line, not glued to the next entry


def test_index_compacts(data_dir: Path) -> None:
    store = JsonConversationStore(data_dir, durable=False)
    conv = new_conversation(store)
    for i in range(400):
        store.rename(USER, conv.id, f"name {i} " + "x" * 200)
    assert _index(data_dir).stat().st_size < 200_000
    assert store.list(USER)[0].chat_name.startswith("name 399")


def test_sweep_removes_only_stale_temp_files(store: JsonConversationStore, data_dir: Path) -> None:
    conv = new_conversation(store)
    udir = data_dir / USER
    old = udir / f".{conv.id}.tmp-old"
    fresh = udir / f".{conv.id}.tmp-fresh"
    old.write_text("x")
    fresh.write_text("x")
    os.utime(old, (1, 1))
    (udir / ".turns").mkdir()
    (udir / ".turns" / ".x.tmp-old").write_text("journal")
    os.utime(udir / ".turns" / ".x.tmp-old", (1, 1))
    assert store.sweep() == 1
    assert temp_files(udir) == [fresh.name]
    assert (udir / ".turns" / ".x.tmp-old").exists()
