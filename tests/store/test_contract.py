"""The conversation store contract: every operation and every error, the same for every backend.

Backend-neutral: no file paths here (those tests sit beside, in test_store_ops, test_corruption, ...).
A backend joins by adding its harness to tests/store/backends.py and its name to the fixture's params.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conversation_manager import (
    ROOT,
    ConversationExists,
    ConversationStore,
    HistoryUnavailable,
    InvalidId,
    InvalidParent,
    NotFound,
    StorageBusy,
    StorageFull,
)

from .backends import BACKENDS, Backend
from .conftest import STOPPED, USER, new_conversation, turn

OTHER = "bob"
TURN: dict[str, Any] = {"model": "m", "provider": "openai", "context_mode": "first"}


@pytest.fixture(params=["json"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    return BACKENDS[request.param](tmp_path, monkeypatch)


@pytest.fixture
def store(backend: Backend) -> ConversationStore:
    return backend.store


def state(store: ConversationStore, user: str = USER) -> object:
    """What a user can see: the list, and every readable conversation in full."""
    listed = store.list(user)
    full = {}
    for s in listed:
        if s.history_available:
            full[s.id] = store.get(user, s.id).model_dump()
    return [s.model_dump() for s in listed], full


def pending_reply(store: ConversationStore, cid: str, text: str = "q") -> str:
    """Begin a turn at the root and return its `in_progress` reply's id."""
    _, _, reply = store.begin_turn(USER, cid, text=text, parent_id=None, **TURN)
    return reply.id


# ---------------------------------------------------------------- create, get, list, rename, delete


def test_create_returns_what_get_reads(store: ConversationStore) -> None:
    conv = new_conversation(store, metadata={"k": "v"})
    assert conv.id.startswith("c_") and len(conv.id) == 26
    loaded = store.get(USER, conv.id)
    assert loaded.model_dump() == conv.model_dump()
    assert loaded.chat_name == "Test" and loaded.instructions == "Be brief."
    assert loaded.metadata == {"k": "v"} and loaded.legacy is None
    assert loaded.messages == [] and loaded.current_message_id is None
    assert loaded.last_response_id is None and loaded.message_count == 0


def test_create_with_imported_messages_and_legacy_id(store: ConversationStore) -> None:
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
    store.create(
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


def test_create_refuses_an_id_in_use(store: ConversationStore) -> None:
    conv = new_conversation(store, chat_name="first")
    with pytest.raises(ConversationExists):
        new_conversation(store, chat_name="second", conversation_id=conv.id)
    assert store.get(USER, conv.id).chat_name == "first"
    new_conversation(store, user=OTHER, conversation_id=conv.id)  # ids are per user


def test_create_refuses_messages_that_are_not_a_tree(store: ConversationStore) -> None:
    orphan = {"id": "m_1", "parent_id": "m_0", "role": "user", "text": "hi", "timestamp": 1.0}
    with pytest.raises(InvalidParent):
        new_conversation(store, messages=[orphan], conversation_id="c_orphan")
    with pytest.raises(NotFound):
        store.get(USER, "c_orphan")


def test_list_newest_first_and_rename(store: ConversationStore) -> None:
    assert store.list(USER) == []  # an unknown user has none
    a = new_conversation(store, chat_name="A", last_update=100.0, created_at=100.0)
    b = new_conversation(store, chat_name="B", last_update=300.0, created_at=300.0)
    c = new_conversation(store, chat_name="C", last_update=200.0, created_at=200.0)
    assert [s.id for s in store.list(USER)] == [b.id, c.id, a.id]
    summary = store.rename(USER, a.id, "Renamed")
    assert summary.chat_name == "Renamed" and summary.last_update == 100.0
    listed = {s.id: s for s in store.list(USER)}
    assert listed[a.id].chat_name == "Renamed" and listed[a.id].history_available
    assert store.get(USER, a.id).chat_name == "Renamed"
    turn(store, a.id, "new")
    first = store.list(USER)[0]
    assert first.id == a.id and first.message_count == 2
    assert store.list(OTHER) == []


def test_delete(store: ConversationStore) -> None:
    keep = new_conversation(store, chat_name="keep")
    gone = new_conversation(store, chat_name="gone")
    turn(store, gone.id, "q")
    store.delete(USER, gone.id)
    assert [s.id for s in store.list(USER)] == [keep.id]
    for call in (
        lambda: store.get(USER, gone.id),
        lambda: store.delete(USER, gone.id),
        lambda: store.rename(USER, gone.id, "x"),
    ):
        with pytest.raises(NotFound):
            call()
    again = new_conversation(store, conversation_id=gone.id)  # the id is free again
    assert store.get(USER, again.id).messages == []


def test_exists_looks_and_changes_nothing(store: ConversationStore) -> None:
    assert not store.exists(USER, "c_none")  # an unknown user
    assert store.list(USER) == []
    conv = new_conversation(store)
    before = state(store)
    assert store.exists(USER, conv.id)
    assert not store.exists(USER, "c_none")
    assert not store.exists(OTHER, conv.id)  # another user's id is not theirs
    assert state(store) == before and store.list(OTHER) == []
    store.delete(USER, conv.id)
    assert not store.exists(USER, conv.id)


# ---------------------------------------------------------------- turns


def test_begin_turn_then_finish(store: ConversationStore) -> None:
    conv = new_conversation(store)
    after, umsg, amsg = store.begin_turn(
        USER,
        conv.id,
        text="hello",
        parent_id=None,
        model="gpt-other",
        provider="openai",
        context_mode="first",
        user_message_id="m_user1",
        assistant_message_id="m_reply1",
    )
    assert umsg is not None and (umsg.id, umsg.parent_id, umsg.role) == ("m_user1", None, "user")
    assert (amsg.id, amsg.parent_id, amsg.status) == ("m_reply1", "m_user1", "in_progress")
    assert after.current_message_id == amsg.id and after.model == "gpt-other"
    on_disk = store.get(USER, conv.id)
    assert [m.id for m in on_disk.messages] == [umsg.id, amsg.id]
    assert on_disk.message(amsg.id).status == "in_progress"
    assert on_disk.model_dump() == after.model_dump()
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
        metadata={"resolved_model": "gpt-other-2026"},
        context_mode="chained",
        model="gpt-other-2026",
    )
    assert done.status == "completed" and done.usage and done.usage.total_tokens == 27
    loaded = store.get(USER, conv.id)
    reply = loaded.message(amsg.id)
    assert reply.model_dump() == done.model_dump()
    assert (reply.text, reply.request_id, reply.reasoning_summary) == ("hi!", "req_1", "thought")
    assert reply.latency_ms == {"first_token": 312, "total": 1840}
    assert reply.metadata == {"resolved_model": "gpt-other-2026"}
    assert reply.model == "gpt-other-2026" and reply.context_mode == "chained"
    assert loaded.last_response_id == "resp_1" and loaded.current_message_id == amsg.id
    assert loaded.totals.input_tokens == 19 and loaded.totals.cost_usd == pytest.approx(0.0000451)
    assert loaded.last_update == reply.timestamp


def test_totals_across_turns(store: ConversationStore) -> None:
    conv = new_conversation(store)
    _, a1 = turn(store, conv.id, "one", usage={"input_tokens": 10, "output_tokens": 1})
    turn(store, conv.id, "two", a1, usage={"input_tokens": 20, "output_tokens": 2}, cost_usd=None)
    turn(store, conv.id, "three", a1, status="failed", usage=None, cost_usd=None, response_id=None)
    loaded = store.get(USER, conv.id)
    assert loaded.totals.input_tokens == 30 and loaded.totals.output_tokens == 3
    assert loaded.totals.cost_usd == pytest.approx(0.001)
    assert loaded.totals.unpriced_messages == 2
    assert loaded.message_count == 6
    # The current reply failed: the next turn chains from the answer before it (rule 2, the
    # hybrid chain), sending the later messages as text.
    assert loaded.last_response_id == "resp_x"
    assert store.list(USER)[0].message_count == 6


def test_parent_rules(store: ConversationStore) -> None:
    conv = new_conversation(store)
    u1, a1 = turn(store, conv.id, "one")
    before = state(store)
    with pytest.raises(InvalidParent):  # a new message goes under an assistant message
        store.begin_turn(USER, conv.id, text="x", parent_id=u1, **TURN)
    with pytest.raises(NotFound):
        store.begin_turn(USER, conv.id, text="x", parent_id="m_nope", **TURN)
    with pytest.raises(InvalidParent):  # regenerate goes under a user message
        store.begin_turn(USER, conv.id, text=None, parent_id=a1, **TURN)
    with pytest.raises(InvalidParent):
        store.begin_turn(USER, conv.id, text=None, parent_id=None, **TURN)
    with pytest.raises(InvalidParent):
        store.begin_turn(USER, conv.id, text=None, parent_id=ROOT, **TURN)
    with pytest.raises(NotFound):
        store.begin_turn(USER, conv.id, text=None, parent_id="m_nope", **TURN)
    assert state(store) == before
    # edit from the root, and regenerate
    _, root_user, _ = store.begin_turn(USER, conv.id, text="edited", parent_id=ROOT, **TURN)
    assert root_user is not None and root_user.parent_id is None
    _, none_user, regen = store.begin_turn(USER, conv.id, text=None, parent_id=u1, **TURN)
    assert none_user is None and regen.parent_id == u1
    loaded = store.get(USER, conv.id)
    assert loaded.sibling_ids(regen.id) == [a1, regen.id]
    assert loaded.current_message_id == regen.id and loaded.message_count == 5


def test_set_current_and_branch(store: ConversationStore) -> None:
    conv = new_conversation(store)
    u1, a1 = turn(store, conv.id, "one")
    _, a2 = turn(store, conv.id, "two", a1)
    _, b1 = turn(store, conv.id, "edit", ROOT)
    assert store.get(USER, conv.id).current_message_id == b1
    switched = store.set_current(USER, conv.id, u1)
    assert switched.current_message_id == a2
    loaded = store.get(USER, conv.id)
    assert loaded.current_message_id == a2 and loaded.branch()[-1].id == a2
    assert loaded.last_response_id == "resp_x"
    assert store.set_current(USER, conv.id, ROOT).current_message_id == b1  # the newest leaf
    with pytest.raises(NotFound):
        store.set_current(USER, conv.id, "m_missing")
    assert store.get(USER, conv.id).current_message_id == b1


def test_finish_errors(store: ConversationStore) -> None:
    conv = new_conversation(store)
    u1, _ = turn(store, conv.id, "one")
    pending = pending_reply(store, conv.id)
    before = state(store)
    with pytest.raises(ValueError, match="final status"):
        store.finish_assistant_message(USER, conv.id, pending, text="a", status="in_progress")  # type: ignore[arg-type]
    assert u1 is not None
    for mid in ("m_nope", u1):  # unknown, or not an assistant message
        with pytest.raises(NotFound):
            store.finish_assistant_message(USER, conv.id, mid, text="a", status="completed")
    assert state(store) == before


def test_mark_interrupted_keeps_text_and_never_overwrites(store: ConversationStore) -> None:
    conv = new_conversation(store)
    mid = pending_reply(store, conv.id)
    after = store.mark_interrupted(USER, conv.id, mid, "partial ans", message=STOPPED)
    msg = after.message(mid)
    assert msg.status == "failed" and msg.text == "partial ans"
    assert msg.error is not None and msg.error.code == "interrupted"
    assert msg.error.message == STOPPED  # the caller's words
    assert store.get(USER, conv.id).model_dump() == after.model_dump()
    assert store.get(USER, conv.id).totals.unpriced_messages == 1
    u2, done = turn(store, conv.id, "again")
    before = state(store)
    # A finished reply stays.
    unchanged = store.mark_interrupted(USER, conv.id, done, "", message=STOPPED)
    assert unchanged.message(done).status == "completed"
    assert unchanged.message(done).text == "answer to again"
    assert state(store) == before
    assert u2 is not None
    for other in ("m_nope", u2):
        with pytest.raises(NotFound):
            store.mark_interrupted(USER, conv.id, other, "", message=STOPPED)


def test_finish_after_delete_is_not_found_and_not_recreated(store: ConversationStore) -> None:
    conv = new_conversation(store)
    mid = pending_reply(store, conv.id)
    store.delete(USER, conv.id)
    with pytest.raises(NotFound):
        store.finish_assistant_message(USER, conv.id, mid, text="a", status="completed")
    with pytest.raises(NotFound):
        store.mark_interrupted(USER, conv.id, mid, "a", message=STOPPED)
    with pytest.raises(NotFound):
        store.get(USER, conv.id)
    assert store.list(USER) == []


# ---------------------------------------------------------------- errors


def _operations(
    store: ConversationStore, user: str, cid: str, mid: str
) -> dict[str, Callable[[], object]]:
    """Every operation on one conversation, with arguments that would succeed if it were there."""
    return {
        "get": lambda: store.get(user, cid),
        "rename": lambda: store.rename(user, cid, "x"),
        "delete": lambda: store.delete(user, cid),
        "begin_turn": lambda: store.begin_turn(user, cid, text="x", parent_id=None, **TURN),
        "finish": lambda: store.finish_assistant_message(
            user, cid, mid, text="a", status="completed"
        ),
        "set_current": lambda: store.set_current(user, cid, ROOT),
        "mark_interrupted": lambda: store.mark_interrupted(user, cid, mid, "a", message=STOPPED),
    }


def test_foreign_user_is_not_found(store: ConversationStore) -> None:
    conv = new_conversation(store)
    mid = pending_reply(store, conv.id)
    before = state(store)
    for call in _operations(store, OTHER, conv.id, mid).values():  # bob has no data yet
        with pytest.raises(NotFound):
            call()
    new_conversation(store, user=OTHER)
    for call in _operations(store, OTHER, conv.id, mid).values():  # nor once he has some
        with pytest.raises(NotFound):
            call()
    assert state(store) == before
    assert conv.id not in {s.id for s in store.list(OTHER)}


@pytest.mark.parametrize("bad", ["../alice", "ALICE", "al", "", "alice\n", "a/b", "\u0430lice"])
def test_invalid_user_refused(store: ConversationStore, bad: str) -> None:
    conv = new_conversation(store)
    before = state(store)
    calls = [
        *_operations(store, bad, conv.id, "m_1").values(),
        lambda: store.list(bad),
        lambda: store.create(bad, chat_name="x", model="m", provider="p", instructions=""),
        lambda: store.turn_dir(bad),
        lambda: store.exists(bad, conv.id),
    ]
    for call in calls:
        with pytest.raises(InvalidId):
            call()
    assert state(store) == before


@pytest.mark.parametrize("bad", ["../x", "..", "", "c_1.", "c.json", "a" * 65, "c_\u0430", "~"])
def test_invalid_conversation_id_refused(store: ConversationStore, bad: str) -> None:
    new_conversation(store)
    before = state(store)
    calls = [
        *_operations(store, USER, bad, "m_1").values(),
        lambda: new_conversation(store, conversation_id=bad),
        lambda: store.exists(USER, bad),
    ]
    for call in calls:
        with pytest.raises(InvalidId):
            call()
    assert state(store) == before


def test_damaged_record_is_history_unavailable_until_deleted(
    backend: Backend, store: ConversationStore
) -> None:
    good = new_conversation(store, chat_name="good")
    turn(store, good.id, "fine")
    bad = new_conversation(store, chat_name="Damaged")
    mid = pending_reply(store, bad.id)
    backend.damage(USER, bad.id)
    assert store.exists(USER, bad.id)  # damaged, still stored
    operations = _operations(store, USER, bad.id, mid)
    delete = operations.pop("delete")
    for _ in range(2):  # the first call sets the record aside; it stays unavailable
        for call in operations.values():
            with pytest.raises(HistoryUnavailable) as info:
                call()
            assert info.value.conversation_id == bad.id
    with pytest.raises(HistoryUnavailable):
        new_conversation(store, conversation_id=bad.id)
    assert not store.exists(USER, bad.id)  # set aside: only `create` refuses the id
    listed = {s.id: s for s in store.list(USER)}
    assert listed[bad.id].history_available is False
    assert listed[good.id].history_available is True
    assert store.get(USER, good.id).message_count == 2
    turn(store, good.id, "still fine")
    delete()
    assert bad.id not in {s.id for s in store.list(USER)}
    with pytest.raises(NotFound):
        store.get(USER, bad.id)
    assert new_conversation(store, conversation_id=bad.id).id == bad.id


def test_damaged_record_found_by_list_first(backend: Backend, store: ConversationStore) -> None:
    good = new_conversation(store)
    bad = new_conversation(store, chat_name="Damaged")
    backend.damage(USER, bad.id)
    listed = {s.id: s for s in store.list(USER)}
    assert listed[bad.id].history_available is False
    assert listed[good.id].history_available is True
    with pytest.raises(HistoryUnavailable):
        store.get(USER, bad.id)


def _writes(store: ConversationStore, cid: str, mid: str) -> dict[str, Callable[[], object]]:
    """Every operation that writes, with arguments that succeed when the store is well."""
    return {
        "create": lambda: new_conversation(store, chat_name="new"),
        "rename": lambda: store.rename(USER, cid, "renamed"),
        "begin_turn": lambda: store.begin_turn(USER, cid, text="x", parent_id=None, **TURN),
        "finish": lambda: store.finish_assistant_message(
            USER, cid, mid, text="a", status="completed"
        ),
        "set_current": lambda: store.set_current(USER, cid, ROOT),
        "mark_interrupted": lambda: store.mark_interrupted(USER, cid, mid, "a", message=STOPPED),
        "delete": lambda: store.delete(USER, cid),
    }


@pytest.mark.parametrize(
    "op",
    ["create", "rename", "begin_turn", "finish", "set_current", "mark_interrupted", "delete"],
)
def test_busy_lock_is_storage_busy_after_the_timeout(
    backend: Backend, store: ConversationStore, op: str
) -> None:
    conv = new_conversation(store)
    mid = pending_reply(store, conv.id)
    before = state(store)
    with backend.busy(USER):
        started = time.monotonic()
        with pytest.raises(StorageBusy) as info:
            _writes(store, conv.id, mid)[op]()
        waited = time.monotonic() - started
        assert store.get(USER, conv.id).id == conv.id  # reading never waits for a writer
    assert info.value.retry_after >= 1
    assert backend.lock_timeout * 0.9 <= waited < backend.lock_timeout + 5  # then, not later
    assert state(store) == before
    _writes(store, conv.id, mid)[op]()  # the lock is free again: the same call succeeds


@pytest.mark.parametrize(
    "op", ["create", "rename", "begin_turn", "finish", "set_current", "mark_interrupted"]
)
def test_full_disk_is_storage_full_and_changes_nothing(
    backend: Backend, store: ConversationStore, op: str
) -> None:
    conv = new_conversation(store)
    turn(store, conv.id, "one")
    mid = pending_reply(store, conv.id)
    before = state(store)
    with backend.disk_full(), pytest.raises(StorageFull):
        _writes(store, conv.id, mid)[op]()
    assert state(store) == before
    _writes(store, conv.id, mid)[op]()  # there is room again: the same call succeeds


# ---------------------------------------------------------------- users, turn directories, sweep


def test_users_and_turn_dirs(store: ConversationStore) -> None:
    assert store.list(OTHER) == []
    first = store.turn_dir(USER)
    assert first.is_dir() and store.turn_dir(USER) == first
    assert store.turn_dir(OTHER) != first
    conv = new_conversation(store)
    assert [s.id for s in store.list(USER)] == [conv.id]  # turn files are not conversations


def test_sweep_keeps_every_conversation(store: ConversationStore) -> None:
    assert store.sweep() == 0  # nothing stored yet
    conv = new_conversation(store)
    turn(store, conv.id, "one")
    before = state(store)
    removed = store.sweep(older_than=0.0)
    assert isinstance(removed, int) and removed >= 0
    assert state(store) == before
