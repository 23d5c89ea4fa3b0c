"""Store operations: create, get, list, rename, delete, turns, branches, index repair."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conversation_manager import (
    ROOT,
    ConversationExists,
    InvalidParent,
    JsonConversationStore,
    NotFound,
)

from .conftest import USER, new_conversation, temp_files, turn


def test_create_get_roundtrip(store: JsonConversationStore, data_dir: Path) -> None:
    conv = new_conversation(store)
    assert conv.id.startswith("c_") and len(conv.id) == 26
    loaded = store.get(USER, conv.id)
    assert loaded.chat_name == "Test" and loaded.instructions == "Be brief."
    assert loaded.rev == 1 and loaded.schema_version == 1
    on_disk = json.loads((data_dir / USER / f"{conv.id}.json").read_text())
    assert on_disk["object"] == "conversation" and on_disk["legacy"] is None
    assert sorted(os.listdir(data_dir / USER)) == sorted(
        [".index.jsonl", ".lock", f"{conv.id}.json"]
    )


def test_create_with_imported_messages_and_legacy_id(store: JsonConversationStore) -> None:
    msgs = [
        {"id": "m_1", "parent_id": None, "role": "user", "text": "hi", "timestamp": 10.0},
        {
            "id": "m_2",
            "parent_id": "m_1",
            "role": "assistant",
            "text": "yo",
            "timestamp": 11.0,
            "status": "completed",
        },
    ]
    conv = store.create(
        USER,
        chat_name="old",
        model="m",
        provider="openai",
        instructions="",
        messages=msgs,
        conversation_id="thread_abcDEF123",
        legacy={"thread_id": "thread_abcDEF123", "history": "imported"},
        created_at=5.0,
    )
    loaded = store.get(USER, "thread_abcDEF123")
    assert loaded.current_message_id == "m_2" and loaded.message_count == 2
    assert loaded.last_update == 11.0 and loaded.created_at == 5.0
    assert loaded.legacy is not None and loaded.legacy.history == "imported"
    assert loaded.last_response_id is None  # no response ids: the next turn replays
    assert loaded.totals.unpriced_messages == 1
    with pytest.raises(ConversationExists):
        store.create(
            USER, chat_name="x", model="m", provider="p", instructions="", conversation_id=conv.id
        )


def test_turn_commit_then_finish(store: JsonConversationStore) -> None:
    conv = new_conversation(store)
    after, umsg, amsg = store.begin_turn(
        USER,
        conv.id,
        text="hello",
        parent_id=None,
        model="gpt-other",
        provider="openai",
        context_mode="first",
    )
    assert umsg is not None and umsg.parent_id is None and umsg.role == "user"
    assert amsg.parent_id == umsg.id and amsg.status == "in_progress"
    assert after.current_message_id == amsg.id and after.model == "gpt-other"
    on_disk = store.get(USER, conv.id)
    assert [m.id for m in on_disk.messages] == [umsg.id, amsg.id]
    assert on_disk.message(amsg.id).status == "in_progress"
    done = store.finish_assistant_message(
        USER,
        conv.id,
        amsg.id,
        text="hi!",
        status="completed",
        response_id="resp_1",
        usage={"input_tokens": 19, "output_tokens": 8},
        cost_usd=0.0000451,
        request_id="req_1",
        latency_ms={"first_token": 312, "total": 1840},
        reasoning_summary="thought",
        context_mode="chained",
        model="gpt-other-2026",
    )
    assert done.status == "completed" and done.usage and done.usage.total_tokens == 27
    loaded = store.get(USER, conv.id)
    assert loaded.last_response_id == "resp_1"
    assert loaded.totals.input_tokens == 19 and loaded.totals.cost_usd == pytest.approx(0.0000451)
    assert loaded.message(amsg.id).model == "gpt-other-2026"
    assert loaded.message(amsg.id).context_mode == "chained"


def test_totals_across_turns(store: JsonConversationStore) -> None:
    conv = new_conversation(store)
    _, a1 = turn(store, conv.id, "one", usage={"input_tokens": 10, "output_tokens": 1})
    turn(store, conv.id, "two", a1, usage={"input_tokens": 20, "output_tokens": 2}, cost_usd=None)
    turn(store, conv.id, "three", a1, status="failed", usage=None, cost_usd=None, response_id=None)
    loaded = store.get(USER, conv.id)
    assert loaded.totals.input_tokens == 30 and loaded.totals.output_tokens == 3
    assert loaded.totals.cost_usd == pytest.approx(0.001)
    assert loaded.totals.unpriced_messages == 2
    assert loaded.message_count == 6
    assert loaded.last_response_id is None  # the current reply failed: replay


def test_parent_rules(store: JsonConversationStore) -> None:
    conv = new_conversation(store)
    u1, a1 = turn(store, conv.id, "one")
    kw = {"model": "m", "provider": "openai", "context_mode": "replayed"}
    with pytest.raises(InvalidParent):
        store.begin_turn(USER, conv.id, text="x", parent_id=u1, **kw)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        store.begin_turn(USER, conv.id, text="x", parent_id="m_nope", **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidParent):
        store.begin_turn(USER, conv.id, text=None, parent_id=a1, **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidParent):
        store.begin_turn(USER, conv.id, text=None, parent_id=None, **kw)  # type: ignore[arg-type]
    # edit from the root and regenerate
    _, root_user, _ = store.begin_turn(USER, conv.id, text="edited", parent_id=ROOT, **kw)  # type: ignore[arg-type]
    assert root_user is not None and root_user.parent_id is None
    _, none_user, regen = store.begin_turn(USER, conv.id, text=None, parent_id=u1, **kw)  # type: ignore[arg-type]
    assert none_user is None and regen.parent_id == u1
    loaded = store.get(USER, conv.id)
    assert loaded.sibling_ids(regen.id) == [a1, regen.id]
    assert loaded.current_message_id == regen.id and loaded.message_count == 5


def test_set_current_and_branch(store: JsonConversationStore) -> None:
    conv = new_conversation(store)
    u1, a1 = turn(store, conv.id, "one")
    _, a2 = turn(store, conv.id, "two", a1)
    _, b1 = turn(store, conv.id, "edit", ROOT)
    assert store.get(USER, conv.id).current_message_id == b1
    switched = store.set_current(USER, conv.id, u1)
    assert switched.current_message_id == a2
    assert [m.id for m in store.get(USER, conv.id).branch()][-1] == a2
    assert store.get(USER, conv.id).last_response_id == "resp_x"
    with pytest.raises(NotFound):
        store.set_current(USER, conv.id, "m_missing")


def test_mark_interrupted_keeps_text_and_never_clobbers(store: JsonConversationStore) -> None:
    conv = new_conversation(store)
    _, _, amsg = store.begin_turn(
        USER, conv.id, text="q", parent_id=None, model="m", provider="openai", context_mode="first"
    )
    after = store.mark_interrupted(USER, conv.id, amsg.id, "partial ans")
    msg = after.message(amsg.id)
    assert msg.status == "failed" and msg.text == "partial ans"
    assert msg.error is not None and msg.error.code == "interrupted"
    assert store.get(USER, conv.id).totals.unpriced_messages == 1
    _, done = turn(store, conv.id, "again")
    store.mark_interrupted(USER, conv.id, done, "")
    assert store.get(USER, conv.id).message(done).status == "completed"


def test_finish_after_delete_is_not_found_and_not_recreated(
    store: JsonConversationStore, data_dir: Path
) -> None:
    conv = new_conversation(store)
    _, _, amsg = store.begin_turn(
        USER, conv.id, text="q", parent_id=None, model="m", provider="openai", context_mode="first"
    )
    store.delete(USER, conv.id)
    with pytest.raises(NotFound):
        store.finish_assistant_message(USER, conv.id, amsg.id, text="a", status="completed")
    assert not (data_dir / USER / f"{conv.id}.json").exists()
    with pytest.raises(NotFound):
        store.delete(USER, conv.id)
    with pytest.raises(NotFound):
        store.get(USER, conv.id)
    assert store.list(USER) == []


def test_finish_rejects_non_final_status(store: JsonConversationStore) -> None:
    conv = new_conversation(store)
    _, _, amsg = store.begin_turn(
        USER, conv.id, text="q", parent_id=None, model="m", provider="openai", context_mode="first"
    )
    with pytest.raises(ValueError, match="final status"):
        store.finish_assistant_message(USER, conv.id, amsg.id, text="a", status="in_progress")  # type: ignore[arg-type]


def test_list_newest_first_and_rename(store: JsonConversationStore) -> None:
    a = new_conversation(store, chat_name="A", last_update=100.0, created_at=100.0)
    b = new_conversation(store, chat_name="B", last_update=300.0, created_at=300.0)
    c = new_conversation(store, chat_name="C", last_update=200.0, created_at=200.0)
    assert [s.id for s in store.list(USER)] == [b.id, c.id, a.id]
    summary = store.rename(USER, a.id, "Renamed")
    assert summary.chat_name == "Renamed" and summary.last_update == 100.0
    listed = {s.id: s for s in store.list(USER)}
    assert listed[a.id].chat_name == "Renamed" and listed[a.id].history_available
    turn(store, a.id, "new")
    assert store.list(USER)[0].id == a.id
    assert store.list(USER)[0].message_count == 2
    assert store.list("nobody") == []


def test_unknown_user_or_conversation(store: JsonConversationStore) -> None:
    with pytest.raises(NotFound):
        store.get("bob", "c_1")
    new_conversation(store)
    with pytest.raises(NotFound):
        store.get(USER, "c_nope")
    with pytest.raises(NotFound):
        store.rename(USER, "c_nope", "x")


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
