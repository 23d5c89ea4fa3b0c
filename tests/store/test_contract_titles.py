"""The store contract for `set_title` (model-written titles): the user's name always wins, the call
is recorded either way and counts in the totals; the usual errors. The same for every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation_manager import ConversationStore, HistoryUnavailable, InvalidId, NotFound
from conversation_manager.models import TITLE_CALL

from .backends import BACKENDS, Backend
from .conftest import USER, new_conversation, turn

CALL = {
    "provider": "openai",
    "model": "gpt-test",
    "usage": {"input_tokens": 40, "output_tokens": 6},
    "cost_usd": 0.0002,
    "created_at": 1767378400.0,
}


@pytest.fixture(params=["json"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    return BACKENDS[request.param](tmp_path, monkeypatch)


@pytest.fixture
def store(backend: Backend) -> ConversationStore:
    return backend.store


def test_a_name_from_the_first_message_is_replaced(store: ConversationStore) -> None:
    conv = new_conversation(store, chat_name="hello there", chat_name_source="message")
    turn(store, conv.id, "hello there", usage={"input_tokens": 10, "output_tokens": 2})
    before = store.get(USER, conv.id)
    entry = store.set_title(USER, conv.id, "A greeting", CALL)
    assert entry is not None and entry.chat_name == "A greeting"
    after = store.get(USER, conv.id)
    assert after.chat_name == "A greeting" and after.chat_name_source == "model"
    assert after.last_update == before.last_update  # a title is no activity
    assert after.metadata[TITLE_CALL] == CALL
    assert after.totals.input_tokens == 50 and after.totals.output_tokens == 8
    assert after.totals.cost_usd == pytest.approx(0.001 + 0.0002)
    assert [s.chat_name for s in store.list(USER)] == ["A greeting"]


@pytest.mark.parametrize("source", ["user", "template", "model"])
def test_any_other_name_is_kept_but_the_call_recorded(
    store: ConversationStore, source: str
) -> None:
    conv = new_conversation(store, chat_name="Mine", chat_name_source=source)
    assert store.set_title(USER, conv.id, "A title", CALL) is None
    after = store.get(USER, conv.id)
    assert after.chat_name == "Mine" and after.chat_name_source == source
    assert after.metadata[TITLE_CALL] == CALL  # the call was made: it still counts
    assert after.totals.cost_usd == pytest.approx(0.0002)


def test_a_rename_makes_the_name_the_users(store: ConversationStore) -> None:
    conv = new_conversation(store, chat_name="hello", chat_name_source="message")
    store.rename(USER, conv.id, "Renamed")
    assert store.get(USER, conv.id).chat_name_source == "user"
    assert store.set_title(USER, conv.id, "A title", CALL) is None
    assert store.get(USER, conv.id).chat_name == "Renamed"


def test_created_names_are_the_users_by_default(store: ConversationStore) -> None:
    conv = new_conversation(store)
    assert store.get(USER, conv.id).chat_name_source == "user"
    assert store.set_title(USER, conv.id, "A title", CALL) is None


def test_errors(backend: Backend, store: ConversationStore) -> None:
    conv = new_conversation(store, chat_name="hello", chat_name_source="message")
    with pytest.raises(NotFound):
        store.set_title("bob", conv.id, "A title", CALL)
    with pytest.raises(NotFound):
        store.set_title(USER, "c_missing", "A title", CALL)
    with pytest.raises(InvalidId):
        store.set_title(USER, "../x", "A title", CALL)
    store.delete(USER, conv.id)
    with pytest.raises(NotFound):
        store.set_title(USER, conv.id, "A title", CALL)  # never re-created
    assert not store.exists(USER, conv.id)
    damaged = new_conversation(store, chat_name="hello", chat_name_source="message")
    backend.damage(USER, damaged.id)
    with pytest.raises(HistoryUnavailable):
        store.set_title(USER, damaged.id, "A title", CALL)
